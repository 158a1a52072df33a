"""Example inputs screened by `swisscheese scan --examples`."""
