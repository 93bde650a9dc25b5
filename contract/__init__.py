"""The artifact contract: what an exported editor takes and returns, and the manifest that records it.

This layer sits above the core (config, model) and below the backends and the exporter, so both
read one description of the editor's inputs and outputs and neither imports the other.
"""
