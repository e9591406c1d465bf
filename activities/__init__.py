"""Activities: one module per outside system; each class receives its ports in ``__init__``."""
