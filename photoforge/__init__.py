"""PhotoForge: restoration, upscaling, inpainting and stylisation of scanned photos."""

__version__ = "0.1.0"
