"""The command-line interface: parsing, the live report, rendering."""
