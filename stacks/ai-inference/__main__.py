import pulumi

from core import Segmentation

pulumi.export("segments", Segmentation().segments)
