"""Measuring an editor: the attribute classifier, image and latent metrics, `evaluate`, reports.

Modules (imported directly, so the runtime can load the classifier without the eval's deps):
- `classifier`: `AttributeClassifier`, `train_classifier`, `save_classifier`, `load_classifier`;
- `image_metrics`: masked PSNR/SSIM, per-image L1/PSNR, cosine similarity;
- `evaluate`: `evaluate(editor, classifier, data, n)` → metrics dict, `edit_grid`;
- `report`: `write_report` → eval.json, eval.md, eval.png;
- `fid`: FID from user-supplied Inception-v3 weights;
- `pipeline`: `train_classifier_file`, `evaluate_checkpoint` (what the CLI calls).
"""
