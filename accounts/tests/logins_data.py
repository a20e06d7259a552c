"""Credentials used by the broker-login tests: distinctive values, so a
search of a page, a log or a column for them means something."""

from __future__ import annotations

PROJECTX = {"username": "trader-px", "api_key": "PXKEY-s3cr3t-7f1c9a"}
TRADOVATE = {
    "username": "trader-tv",
    "password": "TVPASS-s3cr3t-42aa",
    "app_id": "CopytradeApp",
    "app_version": "1.0",
    "cid": "8123",
    "secret": "TVSEC-s3cr3t-91bd",
}
RITHMIC = {
    "username": "trader-rt",
    "password": "RTPASS-s3cr3t-5e5e",
    "system": "Rithmic Paper Trading",
    "gateway": "rituz00100.rithmic.com:443",
}
IB = {"host": "127.0.0.1", "port": "4002", "client_id": "7"}
SECRETS = [
    PROJECTX["api_key"],
    TRADOVATE["password"],
    TRADOVATE["secret"],
    RITHMIC["password"],
]
