"""The Echo (sandbox test partner) connector: an installed app that registers its interface type and functions."""
