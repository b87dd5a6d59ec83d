"""PAHT: field reports for a Vietnamese province. Generated contracts live in paht.<service>.v1."""
