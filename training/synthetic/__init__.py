"""The synthetic demo clinic: demo data made by the project itself, not training code."""
