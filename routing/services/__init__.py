"""Writes for copy groups, leader events and copy orders (HackSoft services)."""
