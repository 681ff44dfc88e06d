import pulumi

from cloudfence import Segmentation

pulumi.export("segments", Segmentation().segments)
