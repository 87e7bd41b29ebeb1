"""Training the boundary refiners: their data, targets, losses and the one training loop.

Needs the ``train`` extra (h5py, PyTorch Lightning); inference never imports this package.
"""
