"""Fractal image compression (partitioned iterated function systems) in jax.numpy.

`encode` searches every range block against every domain under all 8 isometries with
batched matrix products, chooses a quadtree by rate-distortion optimisation (or Fisher's
tolerance rule), and `fileformat` entropy-codes the result as a `.fic` file. `decode`
iterates the maps to their attractor at any zoom.
"""

from jaxgen.fractal.codec import decode, encode
from jaxgen.fractal.dimension import (
    GeneralisedDimensions, box_counting_dimension, generalised_dimensions, image_measure,
    information_dimension, plot_dimensions, renyi_entropy)
from jaxgen.fractal.errors import FicFormatError
from jaxgen.fractal.fileformat import from_bytes, load, save, to_bytes
from jaxgen.fractal.quantize import Quantizer
from jaxgen.fractal.types import CoderParams, FractalCode, PlaneCode

__all__ = [
    "CoderParams", "FicFormatError", "FractalCode", "PlaneCode", "Quantizer",
    "box_counting_dimension", "decode", "encode", "from_bytes", "information_dimension",
    "load", "save", "to_bytes",
    "GeneralisedDimensions", "generalised_dimensions", "image_measure", "plot_dimensions",
    "renyi_entropy",
]
