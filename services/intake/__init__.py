"""Intake: reporters, submissions and the IOC check of step 1."""
