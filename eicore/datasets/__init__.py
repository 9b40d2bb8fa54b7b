"""The built-in datasets (EIBench, a folder of images to annotate), EIBench-shaped files into
samples, and images read safely into prompt parts."""
