"""The ProjectX Gateway adapter (TopstepX and other ProjectX prop firms)."""
