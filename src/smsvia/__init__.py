"""smsvia: a self-hosted business messaging server (SMS, MMS, RCS with SMS fallback)."""

__version__ = "0.1.0"
