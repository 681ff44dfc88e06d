"""AWS wire vocabulary shared by compile (writing) and evaluate (reading):
type tokens and protocol spellings, exactly as Pulumi registers them."""

from __future__ import annotations

from cloudfence.providers.aws.boxes import ANY

VPC = "aws:ec2/vpc:Vpc"
SUBNET = "aws:ec2/subnet:Subnet"
SECURITY_GROUP = "aws:ec2/securityGroup:SecurityGroup"
INGRESS_RULE = "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule"
EGRESS_RULE = "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule"
LEGACY_RULE = "aws:ec2/securityGroupRule:SecurityGroupRule"  # read by evaluate, never written
NETWORK_ACL = "aws:ec2/networkAcl:NetworkAcl"
NETWORK_ACL_RULE = "aws:ec2/networkAclRule:NetworkAclRule"
PREFIX_LIST = "aws:ec2/managedPrefixList:ManagedPrefixList"
INTERNET_GATEWAY = "aws:ec2/internetGateway:InternetGateway"
ROUTE_TABLE = "aws:ec2/routeTable:RouteTable"
ROUTE = "aws:ec2/route:Route"
ROUTE_TABLE_ASSOCIATION = "aws:ec2/routeTableAssociation:RouteTableAssociation"
VPC_ENDPOINT = "aws:ec2/vpcEndpoint:VpcEndpoint"

# type token -> (pulumi_aws submodule, class name)
SDK_CLASSES = {
    VPC: ("ec2", "Vpc"),
    SUBNET: ("ec2", "Subnet"),
    SECURITY_GROUP: ("ec2", "SecurityGroup"),
    INGRESS_RULE: ("vpc", "SecurityGroupIngressRule"),
    EGRESS_RULE: ("vpc", "SecurityGroupEgressRule"),
    NETWORK_ACL: ("ec2", "NetworkAcl"),
    NETWORK_ACL_RULE: ("ec2", "NetworkAclRule"),
    PREFIX_LIST: ("ec2", "ManagedPrefixList"),
    INTERNET_GATEWAY: ("ec2", "InternetGateway"),
    ROUTE_TABLE: ("ec2", "RouteTable"),
    ROUTE: ("ec2", "Route"),
    ROUTE_TABLE_ASSOCIATION: ("ec2", "RouteTableAssociation"),
    VPC_ENDPOINT: ("ec2", "VpcEndpoint"),
}

# Security group rules take names for tcp/udp/icmp/icmpv6 and numbers otherwise;
# any number but those four allows every port ("-1" = every protocol).
SG_PROTOCOL = {"tcp": "tcp", "udp": "udp", "icmp": "icmp", "icmpv6": "icmpv6", "sctp": "132", ANY: "-1"}
# Network ACL entries take numbers; ports apply to tcp (6) and udp (17) only.
ACL_PROTOCOL = {"tcp": "6", "udp": "17", "icmp": "1", "icmpv6": "58", "sctp": "132", ANY: "-1"}

# Reading: names and numbers AWS accepts for the protocols the model knows.
PROTOCOL_NAMES = {
    "-1": ANY, "all": ANY,
    "tcp": "tcp", "6": "tcp",
    "udp": "udp", "17": "udp",
    "icmp": "icmp", "1": "icmp",
    "icmpv6": "icmpv6", "58": "icmpv6",
    "sctp": "sctp", "132": "sctp",
}
