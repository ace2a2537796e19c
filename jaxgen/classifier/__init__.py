"""The CNN classifier family: trained like any model, reused as the FCD feature extractor."""
