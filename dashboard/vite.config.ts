// Built into the Python package (rest_api/dashboard), which rest_api serves at "/".
import { defineConfig } from "vite";

export default defineConfig({
  base: "/",
  build: {
    outDir: "../rest_api/dashboard",
    emptyOutDir: true,
    target: "es2022",
    assetsDir: "assets",
  },
});
