"""The Pulumi layer: the Segmentation component, the emitter and the offline engine."""
