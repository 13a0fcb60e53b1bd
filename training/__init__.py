"""Training-time code for PhotoForge's own models (corpus, damage synthesis, training).

Never imported by the app: torch lives in the `train` extra only. `training.synth` needs
only numpy and OpenCV so the benches and tests can use it without torch.
"""
