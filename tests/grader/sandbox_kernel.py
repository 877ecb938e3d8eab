"""What the python grader sandbox's tests need from the kernel, said once: the worker refuses
to run grader code without Landlock (any ABI) and seccomp filters, so its tests are skipped,
with the exact reason, on a kernel that lacks either."""

from __future__ import annotations

import pytest

from rft_grader.sandbox.confinement import probe

KERNEL = probe()
REQUIRES_SANDBOX_KERNEL = [
    pytest.mark.skipif(KERNEL.landlock_abi < 1, reason=(
        f"needs Landlock (any ABI); kernel {KERNEL.release}: {KERNEL.landlock_detail}")),
    pytest.mark.skipif(KERNEL.seccomp_api < 1, reason=(
        f"needs seccomp filters (libseccomp API level >= 1); kernel {KERNEL.release}")),
]
