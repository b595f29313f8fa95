"""The ``qbwc-spyne`` command line (also ``python -m qbwc_spyne``)."""
