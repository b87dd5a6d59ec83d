"""Publication: step 8 (edit and publish the answer) and the public read model."""
