"""GANs: adversarial and cycle losses, the image history pool, and the gan/cyclegan families."""
