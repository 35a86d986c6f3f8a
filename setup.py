"""Packaging of blocks_log (distribution ``blocks-log``)."""
import io
import os
import re

from setuptools import find_packages, setup

HERE = os.path.dirname(os.path.abspath(__file__))


def read(*parts):
    with io.open(os.path.join(HERE, *parts), encoding='utf-8') as f:
        return f.read()


# Read the version from the source rather than importing the package, which
# would need its dependencies at build time.
VERSION = re.search(r"^__version__ = '([^']+)'",
                    read('blocks_log', '__init__.py'), re.M).group(1)

setup(
    name='blocks-log',
    version=VERSION,
    description='The training log of the Blocks framework, standing on its '
                'own: in memory, SQLite or PostgreSQL, crash-safe, '
                'pandas-ready.',
    long_description=read('README.rst'),
    long_description_content_type='text/x-rst',
    license='MIT',
    packages=find_packages(exclude=['tests', 'tests.*', 'benchmarks']),
    # The page of `blocks-log serve`: its script, styles and uPlot.
    package_data={'blocks_log.web': ['static/*']},
    # Not 3.8 nor 3.9: they raise KeyboardInterrupt between two stores,
    # which the log's Ctrl-C safety counts on them not to (README).
    python_requires='>=3.10',
    install_requires=[],
    extras_require={
        'pandas': ['pandas'],
        'numpy': ['numpy'],
        'plot': ['matplotlib'],
        'postgresql': ['psycopg[binary]>=3.1'],
        'test': ['pytest', 'hypothesis'],
        # The integrations take the framework you train with; these are the
        # versions their tests run on.
        'keras': ['keras>=3'],
        'lightning': ['lightning>=2'],
        'transformers': ['transformers>=4.40', 'accelerate'],
    },
    entry_points={'console_scripts': ['blocks-log = blocks_log.cli:main']},
    classifiers=[
        'License :: OSI Approved :: MIT License',
        'Programming Language :: Python :: 3',
        'Programming Language :: Python :: 3.10',
        'Programming Language :: Python :: 3.11',
        'Programming Language :: Python :: 3.12',
        'Programming Language :: Python :: 3.13',
        'Topic :: Scientific/Engineering :: Artificial Intelligence',
    ],
)
