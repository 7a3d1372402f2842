"""eventqa: protobuf event contracts turned into Great Expectations suites, run in the warehouse."""

__version__ = "0.1.0"
