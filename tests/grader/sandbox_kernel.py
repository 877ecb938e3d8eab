"""What the python grader sandbox's tests need from the kernel, said once: the worker refuses
to run grader code without Landlock (any ABI) and seccomp filters. A kernel that lacks either
fails these tests with the exact reason rather than skipping them: a skipped boundary test
would pass CI with the sandbox unproven."""

from __future__ import annotations

import pytest

from rft_grader.sandbox.confinement import probe

KERNEL = probe()


@pytest.fixture
def sandbox_kernel() -> None:
    missing = []
    if KERNEL.landlock_abi < 1:
        missing.append(f"Landlock (any ABI): {KERNEL.landlock_detail}")
    if KERNEL.seccomp_api < 1:
        missing.append("seccomp filters (libseccomp API level >= 1)")
    if missing:
        pytest.fail(f"kernel {KERNEL.release} lacks what the grader sandbox needs: "
                    + "; ".join(missing), pytrace=False)


REQUIRES_SANDBOX_KERNEL = [pytest.mark.usefixtures("sandbox_kernel")]
