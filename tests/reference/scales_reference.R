# Reliability of item sets: Cronbach's alpha and McDonald's omega total, by R's psych package.
# Run: Rscript tests/reference/scales_reference.R  (from the repository root; needs r-cran-psych,
# r-cran-gparotation and r-cran-jsonlite). Writes tests/reference/scales/items_*.csv and
# tests/reference/scales/scales_reference.json, read by tests/analyse/test_scales.py.
suppressMessages({library(psych); library(GPArotation); library(jsonlite)})
set.seed(20090215)

ordinal <- function(n, loadings, cuts) {
  f <- rnorm(n)
  sapply(loadings, function(l) {
    latent <- l * f + sqrt(1 - l^2) * rnorm(n)
    findInterval(latent, cuts) + 1
  })
}

sets <- list(
  # SWEMWBS-shaped: 7 items coded 1-5
  swemwbs_like = list(x = ordinal(300, c(0.75, 0.7, 0.65, 0.8, 0.6, 0.7, 0.55), c(-1.5, -0.5, 0.5, 1.5)), reverse = integer(0), low = 1, high = 5),
  # a custom 5-item scale coded 1-4, the third item worded the other way (reverse-coded before analysis)
  custom_reversed = list(x = ordinal(200, c(0.6, 0.7, -0.65, 0.5, 0.75), c(-1, 0, 1)), reverse = 3L, low = 1, high = 4),
  # UCLA-shaped: 3 items coded 1-3
  ucla3_like = list(x = ordinal(150, c(0.7, 0.6, 0.8), c(-0.3, 0.8)), reverse = integer(0), low = 1, high = 3)
)

out <- list(source = paste("psych", packageVersion("psych"), "on", R.version.string))
for (name in names(sets)) {
  s <- sets[[name]]
  colnames(s$x) <- paste0("item", seq_len(ncol(s$x)))
  write.csv(s$x, file.path("tests/reference/scales", paste0("items_", name, ".csv")), row.names = FALSE)
  coded <- s$x
  for (j in s$reverse) coded[, j] <- s$low + s$high - coded[, j]
  a <- psych::alpha(coded, check.keys = FALSE, warnings = FALSE)
  o <- psych::omega(coded, nfactors = 1, fm = "ml", plot = FALSE)
  fa1 <- psych::fa(coded, nfactors = 1, fm = "ml")
  out[[name]] <- list(reverse = s$reverse, low = s$low, high = s$high,
                      raw_alpha = a$total$raw_alpha, omega_tot = o$omega.tot,
                      uniquenesses = unname(fa1$uniquenesses))
}
write(toJSON(out, auto_unbox = TRUE, digits = NA, pretty = TRUE), "tests/reference/scales/scales_reference.json")
