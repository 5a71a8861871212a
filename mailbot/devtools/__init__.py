"""Support for the demo, the tests and the benchmarks, not used by the product at run time: a local SMTP sink and the shapes real mail clients give replies."""
