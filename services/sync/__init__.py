"""Sync: federation between the province (source of record) and hub nodes such as the Đồng Hới district IOC."""
