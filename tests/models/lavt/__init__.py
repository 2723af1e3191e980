"""Tests of the LAVT model package."""
