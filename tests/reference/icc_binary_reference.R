# The ICC of a binary outcome in a cluster trial: the one-way ANOVA estimator for unequal cluster
# sizes (Fleiss 1981, Statistical Methods for Rates and Proportions, ch. 13; recommended for binary
# outcomes by Ridout, Demetrio & Firth 1999, Biometrics 55:137-148; Donner & Klar 2000, Design and
# Analysis of Cluster Randomization Trials, sec. 3.3), for tests/analyse/test_icc_binary.py.
#
#   ICC = (MSB - MSW) / (MSB + (n0 - 1) MSW)
#
# Pooled within arms (what bitframe reports): clusters nested in arms, so the cluster mean square
# is the one after the arm term of aov(y ~ arm + factor(cluster)), with G - A degrees of freedom,
# and n0 = (N - sum_a sum_g n_ag^2 / N_a) / (G - A).
# Control arm alone (the textbook one-way case): aov(y ~ factor(cluster)) on the control rows,
# n0 = (N - sum_g n_g^2 / N) / (G - 1).
#
# Data: 30 clusters (15 per arm) of unequal sizes 4..40 with a binary outcome from a logistic
# random-intercept model, fixed seed; written to icc_binary/clusters.csv.
# Run: Rscript tests/reference/icc_binary_reference.R > tests/reference/icc_binary_reference.json
library(jsonlite)

set.seed(20261201)
G <- 30
sizes <- sample(4:40, G, replace = TRUE)
arm_of <- rep(c("control", "treatment"), each = G / 2)
u <- rnorm(G, sd = 0.6)
cluster <- rep(sprintf("c%02d", seq_len(G)), times = sizes)
arm <- rep(arm_of, times = sizes)
eta <- -0.8 + 0.4 * (arm == "treatment") + rep(u, times = sizes)
y <- rbinom(length(eta), 1, plogis(eta))
data <- data.frame(cluster = cluster, arm = arm, y = y)
dir.create("tests/reference/icc_binary", showWarnings = FALSE)
write.csv(data, "tests/reference/icc_binary/clusters.csv", row.names = FALSE, quote = FALSE)

anova_icc <- function(fit, term, n0) {
  tab <- summary(fit)[[1]]
  rows <- trimws(rownames(tab))
  msb <- tab[rows == term, "Mean Sq"]
  msw <- tab[rows == "Residuals", "Mean Sq"]
  list(icc = (msb - msw) / (msb + (n0 - 1) * msw), msb = msb, msw = msw, n0 = n0)
}

cells <- aggregate(y ~ arm + cluster, data = data, FUN = length)
arm_n <- tapply(data$y, data$arm, length)
n0_pooled <- (nrow(data) - sum(cells$y^2 / arm_n[cells$arm])) / (nrow(cells) - length(arm_n))
pooled <- anova_icc(aov(y ~ arm + factor(cluster), data = data), "factor(cluster)", n0_pooled)

control <- data[data$arm == "control", ]
sizes_c <- table(control$cluster)
n0_control <- (nrow(control) - sum(sizes_c^2) / nrow(control)) / (length(sizes_c) - 1)
control_only <- anova_icc(aov(y ~ factor(cluster), data = control), "factor(cluster)", n0_control)

cat(toJSON(list(
  source = "base R aov mean squares; Fleiss 1981 / Ridout, Demetrio & Firth 1999 ANOVA estimator",
  data = "icc_binary/clusters.csv",
  n = nrow(data), clusters = nrow(cells),
  pooled_within_arms = pooled,
  control_arm = control_only
), auto_unbox = TRUE, digits = NA, pretty = TRUE))
