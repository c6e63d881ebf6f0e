"""Use cases: assess one record or a stream of them, with their ports passed in."""

from myositis_cds.services.assessing import Outcome, RecordParser, assess_stream

__all__ = ["Outcome", "RecordParser", "assess_stream"]
