"""Asyncio glue around the pure engine: adapters in, services to persist.

Everything here may do I/O and read the clock; nothing here decides sizes or
risk (that is ``routing.engine``) or writes rows directly (that is
``routing.services``).
"""
