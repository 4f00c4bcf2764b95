"""Test helpers of the AutoTrain provider: a fake of the Hugging Face Hub API."""

from ftsdk_autotrain.testing.fake_hub import FakeHub

__all__ = ["FakeHub"]
