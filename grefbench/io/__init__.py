"""Reading and writing grefbench files: masks (RLE), prediction files, result tables."""
