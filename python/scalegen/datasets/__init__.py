"""Data bundled with scalegen: no download at run time."""

from __future__ import annotations

from importlib import resources

from ..bayesnet import BayesianNetwork, read_bif

# name -> file in data/
NETWORKS = {"asia": "asia.bif", "alarm": "alarm.bif.gz"}


def load_network(name: str) -> BayesianNetwork:
    """A Bayesian network bundled as a BIF file: 'asia' (Lauritzen and Spiegelhalter, 1988;
    8 variables) or 'alarm' (Beinlich et al., 1989; 37 variables, the tables of the bnlearn
    repository's file)."""
    if name not in NETWORKS:
        raise ValueError(f"unknown network {name!r}: bundled networks are {list(NETWORKS)}")
    with resources.as_file(resources.files(__package__) / "data" / NETWORKS[name]) as path:
        return read_bif(path)


__all__ = ["NETWORKS", "load_network"]
