"""Handling: cases at the lead agency, lead unit and staff, steps 3 to 7 of the procedure."""
