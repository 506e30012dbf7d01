"""Published SPC data sets, with where they come from.

The data are Montgomery's textbook examples as shipped with the R package qcc
(L. Scrucca, "qcc: an R package for quality control charting and statistical process
control", R News 4/1, 2004; data files ``data/*.txt`` of https://github.com/luca-scr/qcc),
and SAS Institute's drink-can example. The published results they are checked against
are quoted in the tests next to each use, with their source.
"""

# Inside diameter (mm) of forged piston rings, 25 Phase I samples of 5 then 15 Phase II.
# Montgomery, Introduction to Statistical Quality Control (ISQC), the X̄-R chart example
# (2nd ed. pp. 206–213); qcc data/pistonrings.txt.
PISTON_RINGS_PHASE_I: list[list[float]] = [
    [74.030, 74.002, 74.019, 73.992, 74.008],
    [73.995, 73.992, 74.001, 74.011, 74.004],
    [73.988, 74.024, 74.021, 74.005, 74.002],
    [74.002, 73.996, 73.993, 74.015, 74.009],
    [73.992, 74.007, 74.015, 73.989, 74.014],
    [74.009, 73.994, 73.997, 73.985, 73.993],
    [73.995, 74.006, 73.994, 74.000, 74.005],
    [73.985, 74.003, 73.993, 74.015, 73.988],
    [74.008, 73.995, 74.009, 74.005, 74.004],
    [73.998, 74.000, 73.990, 74.007, 73.995],
    [73.994, 73.998, 73.994, 73.995, 73.990],
    [74.004, 74.000, 74.007, 74.000, 73.996],
    [73.983, 74.002, 73.998, 73.997, 74.012],
    [74.006, 73.967, 73.994, 74.000, 73.984],
    [74.012, 74.014, 73.998, 73.999, 74.007],
    [74.000, 73.984, 74.005, 73.998, 73.996],
    [73.994, 74.012, 73.986, 74.005, 74.007],
    [74.006, 74.010, 74.018, 74.003, 74.000],
    [73.984, 74.002, 74.003, 74.005, 73.997],
    [74.000, 74.010, 74.013, 74.020, 74.003],
    [73.988, 74.001, 74.009, 74.005, 73.996],
    [74.004, 73.999, 73.990, 74.006, 74.009],
    [74.010, 73.989, 73.990, 74.009, 74.014],
    [74.015, 74.008, 73.993, 74.000, 74.010],
    [73.982, 73.984, 73.995, 74.017, 74.013],
]
PISTON_RINGS_PHASE_II: list[list[float]] = [
    [74.012, 74.015, 74.030, 73.986, 74.000],
    [73.995, 74.010, 73.990, 74.015, 74.001],
    [73.987, 73.999, 73.985, 74.000, 73.990],
    [74.008, 74.010, 74.003, 73.991, 74.006],
    [74.003, 74.000, 74.001, 73.986, 73.997],
    [73.994, 74.003, 74.015, 74.020, 74.004],
    [74.008, 74.002, 74.018, 73.995, 74.005],
    [74.001, 74.004, 73.990, 73.996, 73.998],
    [74.015, 74.000, 74.016, 74.025, 74.000],
    [74.030, 74.005, 74.000, 74.016, 74.012],
    [74.001, 73.990, 73.995, 74.010, 74.024],
    [74.015, 74.020, 74.024, 74.005, 74.019],
    [74.035, 74.010, 74.012, 74.015, 74.026],
    [74.017, 74.013, 74.036, 74.025, 74.026],
    [74.010, 74.005, 74.029, 74.000, 74.020],
]

# Nonconforming orange-juice cans in 30 samples of 50 (Montgomery ISQC, the p chart
# example, 2nd ed. pp. 152–155); qcc data/orangejuice.txt, the 30 "trial" rows.
ORANGE_JUICE_DEFECTIVES: list[int] = [
    12, 15, 8, 10, 4, 7, 16, 9, 14, 10, 5, 6, 17, 12, 22,
    8, 10, 5, 13, 11, 20, 18, 24, 15, 9, 12, 7, 13, 9, 6,
]  # fmt: skip
# The 24 further samples of 50 taken after the process was adjusted (qcc's new data).
ORANGE_JUICE_PHASE_II: list[int] = [
    9, 6, 12, 5, 6, 4, 6, 3, 7, 6, 2, 4, 3, 6, 5, 4, 8, 5, 6, 7, 5, 6, 3, 5,
]  # fmt: skip
ORANGE_JUICE_SAMPLE_SIZE = 50

# Nonconformities in 26 samples of 100 printed circuit boards (Montgomery ISQC, the c
# chart example, 2nd ed. pp. 173–175); qcc data/circuit.txt, the 26 "trial" rows.
CIRCUIT_NONCONFORMITIES: list[int] = [
    21, 24, 16, 12, 15, 5, 28, 20, 31, 25, 20, 24, 16,
    19, 10, 17, 13, 22, 18, 39, 30, 24, 16, 19, 17, 15,
]  # fmt: skip

# Nonconformities found in 20 samples of 5 personal computers (Montgomery ISQC, the u
# chart example); qcc data/pcmanufact.txt.
PC_NONCONFORMITIES: list[int] = [
    10, 12, 8, 14, 10, 16, 11, 7, 10, 15, 9, 5, 7, 11, 12, 6, 8, 10, 7, 5,
]  # fmt: skip
PC_SAMPLE_SIZE = 5

# Viscosity of 20 batches of aircraft primer paint (Montgomery ISQC, the individuals
# chart example); qcc data/viscosity.txt, the 20 "trial" rows.
VISCOSITY: list[float] = [
    34.05, 34.40, 33.59, 35.96, 34.70, 33.51, 33.79, 34.04, 34.52, 33.75,
    33.27, 33.71, 34.03, 34.58, 34.02, 33.97, 34.05, 34.04, 33.73, 34.05,
]  # fmt: skip

# Fluid weight (ounces) of 100 drink cans. SAS/QC User's Guide, The CAPABILITY
# Procedure, "Computing Descriptive Statistics" (data set Cans), https://support.sas.com/
# documentation/cdl/en/qcug/68161/HTML/default/qcug_capability_sect006.htm
CANS: list[float] = [
    12.07, 12.02, 12.00, 12.01, 11.98, 11.96, 12.04, 12.05, 12.01, 11.97,
    12.03, 12.03, 12.00, 12.04, 11.96, 12.02, 12.06, 12.00, 12.02, 11.91,
    12.05, 11.98, 11.91, 12.01, 12.06, 12.02, 12.05, 11.90, 12.07, 11.98,
    12.02, 12.11, 12.00, 11.99, 11.95, 11.98, 12.05, 12.00, 12.10, 12.04,
    12.06, 12.04, 11.99, 12.06, 11.99, 12.07, 11.96, 11.97, 12.00, 11.97,
    12.09, 11.99, 11.95, 11.99, 11.99, 11.96, 11.94, 12.03, 12.09, 12.03,
    11.99, 12.00, 12.05, 12.04, 12.05, 12.01, 11.97, 11.93, 12.00, 11.97,
    12.13, 12.07, 12.00, 11.96, 11.99, 11.97, 12.05, 11.94, 11.99, 12.02,
    11.95, 11.99, 11.91, 12.06, 12.03, 12.06, 12.05, 12.04, 12.03, 11.98,
    12.05, 12.05, 12.11, 11.96, 12.00, 11.96, 11.96, 12.00, 12.01, 11.98,
]  # fmt: skip
