"""Training of the learned methods and of the classical scorer (needs the ``train`` extra for torch)."""
