"""`python -m l2m_edge …` is `l2m-edge …`; torchrun starts ranks this way: `torchrun --nproc_per_node N -m l2m_edge train …`."""

from l2m_edge.cli import main

main()
