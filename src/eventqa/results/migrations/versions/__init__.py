"""The results store's schema versions, one frozen file each, applied in order."""
