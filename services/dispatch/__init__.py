"""Dispatch: the organisation directory, categories, step 2 and every deadline; also the built-in staff sign-in."""
