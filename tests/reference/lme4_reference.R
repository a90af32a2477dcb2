# Reference values for bitframe.analyse.mixed: linear mixed model with a random cluster intercept.
#
# Run from the repository root:  Rscript tests/reference/lme4_reference.R
# Sources (outside bitframe):
#   * lme4::lmer(REML = TRUE) -- Bates, Maechler, Bolker & Walker (2015) J Stat Softw 67(1):1-48.
#     Fixed effects, their SEs (vcov), the variance components and the REML log-likelihood.
#   * nlme::lme(method = "REML") -- Pinheiro & Bates (2000) Mixed-Effects Models in S and S-PLUS,
#     sec. 2.4.2: "between-within" denominator degrees of freedom and t-test p-values.
#   * ICC = tau^2 / (tau^2 + sigma^2) -- Donner & Klar (2000) Design and Analysis of Cluster
#     Randomization Trials, ch. 2.
suppressPackageStartupMessages({
  library(lme4)
  library(nlme)
  library(jsonlite)
})
out <- "tests/reference/lme4"
dir.create(out, showWarnings = FALSE, recursive = TRUE)
set.seed(7031)

make_cluster <- function(G, arms, effects, tau, sigma, size_range) {
  sizes <- sample(size_range[1]:size_range[2], G, replace = TRUE)
  cl_arm <- sample(rep_len(arms, G))
  cl_z <- round(rnorm(G), 4)                      # cluster-level covariate
  u <- rnorm(G, 0, tau)
  cluster <- rep(sprintf("k%02d", seq_len(G)), sizes)
  idx <- rep(seq_len(G), sizes)
  n <- length(idx)
  x <- round(rnorm(n), 4)                          # individual-level covariate
  arm <- cl_arm[idx]
  y <- 1 + effects[match(arm, arms)] + 0.5 * x + 0.3 * cl_z[idx] + u[idx] + rnorm(n, 0, sigma)
  data.frame(y = round(y, 6), arm = arm, x = x, z = cl_z[idx], cluster = cluster)
}
datasets <- list(
  cluster_2arm = make_cluster(30, c("control", "treat"), c(0, 0.4), 0.5, 1, c(5, 40)),
  cluster_3arm = make_cluster(36, c("control", "poster", "sms"), c(0, 0.2, 0.5), 0.35, 1.2, c(3, 25)),
  small_icc = make_cluster(40, c("control", "treat"), c(0, 0.3), 0.12, 1, c(10, 30)),
  no_cluster_variance = make_cluster(20, c("control", "treat"), c(0, 0.3), 0, 1, c(4, 12))
)
# a dataset whose cluster means are identical within each arm: the REML estimate of tau^2 is 0
# (a singular fit on the boundary)
sg <- make_cluster(16, c("control", "treat"), c(0, 0.5), 0, 1, c(5, 10))
sg$y <- round(sg$y - ave(sg$y, sg$cluster) + ave(sg$y, sg$arm), 6)
datasets$singular <- sg
for (nm in names(datasets)) write.csv(datasets[[nm]], file.path(out, paste0(nm, ".csv")), row.names = FALSE)

cases <- list(
  list("c2_plain", "cluster_2arm", "arm"),
  list("c2_x", "cluster_2arm", "arm + x"),
  list("c2_x_z", "cluster_2arm", "arm + x + z"),
  list("c3_plain", "cluster_3arm", "arm"),
  list("c3_x_z", "cluster_3arm", "arm + x + z"),
  list("small_icc_x", "small_icc", "arm + x"),
  list("boundary", "no_cluster_variance", "arm"),
  list("singular", "singular", "arm"),
  list("c2_x_ml", "cluster_2arm", "arm + x", FALSE),
  list("c3_x_z_ml", "cluster_3arm", "arm + x + z", FALSE)
)
res <- list()
ctrl <- lmerControl(optimizer = "bobyqa", optCtrl = list(rhobeg = 1e-2, rhoend = 1e-12, maxfun = 1e5),
                    check.conv.singular = "ignore")
for (cs in cases) {
  d <- datasets[[cs[[2]]]]
  d$arm <- relevel(factor(d$arm), ref = "control")
  f <- as.formula(paste("y ~", cs[[3]], "+ (1 | cluster)"))
  reml <- if (length(cs) >= 4) cs[[4]] else TRUE
  fit <- lmer(f, data = d, REML = reml, control = ctrl)
  vc <- as.data.frame(VarCorr(fit))
  tau2 <- vc$vcov[vc$grp == "cluster"]
  sigma2 <- vc$vcov[vc$grp == "Residual"]
  b <- fixef(fit)
  se <- sqrt(diag(as.matrix(vcov(fit))))
  # nlme for the between-within df (same REML fit, different optimiser)
  fl <- as.formula(paste("y ~", cs[[3]]))
  lfit <- tryCatch(lme(fl, random = ~ 1 | cluster, data = d, method = if (reml) "REML" else "ML",
                       control = lmeControl(msMaxIter = 500, tolerance = 1e-12, niterEM = 100, opt = "optim")),
                   error = function(e) NULL)
  tt <- if (!is.null(lfit)) summary(lfit)$tTable else NULL
  res[[length(res) + 1]] <- list(
    case = cs[[1]], dataset = cs[[2]], rhs = cs[[3]], reml = reml,
    n = nrow(d), n_clusters = length(unique(d$cluster)),
    term = names(b), estimate = unname(b), std_error = unname(se), statistic = unname(b / se),
    tau2 = tau2, sigma2 = sigma2, icc = tau2 / (tau2 + sigma2),
    reml_loglik = as.numeric(logLik(fit)), singular = isSingular(fit),
    nlme_df = if (!is.null(tt)) unname(tt[, "DF"]) else NULL,
    nlme_p = if (!is.null(tt)) unname(tt[, "p-value"]) else NULL,
    # t-test with lme4's t statistic and nlme's between-within df (Pinheiro & Bates 2000, sec. 2.4.2)
    p_between_within = if (!is.null(tt)) unname(2 * pt(-abs(b / se), tt[, "DF"])) else NULL,
    p_normal = unname(2 * pnorm(-abs(b / se))),
    nlme_estimate = if (!is.null(tt)) unname(tt[, "Value"]) else NULL,
    nlme_std_error = if (!is.null(tt)) unname(tt[, "Std.Error"]) else NULL
  )
}
writeLines(toJSON(res, auto_unbox = TRUE, digits = NA, pretty = TRUE), file.path(out, "lmer_results.json"))
cat("wrote", length(res), "cases\n")
