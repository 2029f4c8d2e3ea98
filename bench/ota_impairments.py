"""`make bench ARGS=ota_impairments`: the ``ota_impairments`` key of bench/results/e2e.json
alone (examples/mu_ascc_ota_sim.grc under the impairments of issue 21 beside the AWGN
reference; bench/e2e.py ``ota_impairments_keys``) and bench/results/ota_impairments.png. The
other keys of e2e.json are kept. Fewer runs: ``python bench/e2e.py --only ota_impairments
--seeds 1 --images 20 --points awgn,dc_-10dB``."""

from __future__ import annotations

import e2e


def main() -> None:
    e2e.main(["--only", "ota_impairments"])


if __name__ == "__main__":
    main()
