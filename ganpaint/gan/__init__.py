"""The networks and their files (runtime): the plain Progressive GAN generator and discriminator
(networks), the one artifact format every shipped network is saved in (artifacts), loading and
converting generator checkpoints (checkpoint), the fast CPU route as an explicit conversion (folding),
rendering only a region of the image (renderer), and forward hooks for experiments (nethook).
"""
