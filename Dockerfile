# CPU image: the project's pinned environment. The repository is not copied in: `make` mounts it
# at /workspace, so results, models and the DVC cache stay on the host when the container goes.
FROM python:3.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    VIRTUAL_ENV=/opt/venv \
    PATH=/opt/venv/bin:$PATH \
    PYTHONPATH=/workspace/src \
    IN_DOCKER=1

# git and make for DVC and the Makefile. Debian's security updates replace exact package
# versions, so these two are left to the base image's release; the Python side is pinned.
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends git make \
    && rm -rf /var/lib/apt/lists/*

COPY requirements.txt requirements-jupyter.txt /tmp/requirements/
# The CPU build of the pinned torch first (PyPI's Linux wheel is the multi-GB CUDA build);
# `torch==2.13.0` in requirements.txt is then already satisfied by 2.13.0+cpu.
RUN python -m venv /opt/venv \
    && pip install --index-url https://download.pytorch.org/whl/cpu torch==2.13.0 \
    && pip install -r /tmp/requirements/requirements.txt -r /tmp/requirements/requirements-jupyter.txt

RUN useradd --create-home --uid 1000 posenc
USER 1000
WORKDIR /workspace
CMD ["bash"]
