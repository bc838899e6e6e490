"""AWS plumbing, each piece once: region, boto config, time budget, clients with a call meter, the paced
CloudTrail look-up and DescribeUpdate polling.
"""
