{
  "variables": {
    "tlslp_static_solver%": 0
  },
  "targets": [
    {
      "target_name": "tlslp_kernel",
      "sources": [
        "src/addon.c",
        "src/kernel_avx512.c",
        "src/kernel_common.c",
        "src/kernel_portable.c",
        "src/kernel_shani.c",
        "src/variants.c"
      ],
      "defines": [
        "NAPI_VERSION=8"
      ],
      "cflags": [
        "-O3",
        "-fomit-frame-pointer",
        "-fvisibility=hidden",
        "-Wall",
        "-Wextra"
      ],
      "cflags_c": [
        "-std=gnu11"
      ],
      "xcode_settings": {
        "GCC_OPTIMIZATION_LEVEL": "3",
        "GCC_SYMBOLS_PRIVATE_EXTERN": "YES",
        "OTHER_CFLAGS": [
          "-std=gnu11",
          "-fomit-frame-pointer"
        ]
      },
      "msvs_settings": {
        "VCCLCompilerTool": {
          "Optimization": 2
        }
      }
    },
    {
      "target_name": "tlslp-solve",
      "type": "executable",
      "sources": [
        "src/solve_main.c",
        "src/kernel_avx512.c",
        "src/kernel_common.c",
        "src/kernel_portable.c",
        "src/kernel_shani.c",
        "src/variants.c"
      ],
      "cflags": [
        "-O3",
        "-fomit-frame-pointer",
        "-Wall",
        "-Wextra"
      ],
      "cflags_c": [
        "-std=gnu11"
      ],
      "conditions": [
        [
          "OS=='linux'",
          {
            "ldflags": [
              "-pthread"
            ]
          }
        ],
        [
          "OS=='linux' and tlslp_static_solver==1",
          {
            "ldflags": [
              "-static"
            ]
          }
        ]
      ],
      "xcode_settings": {
        "GCC_OPTIMIZATION_LEVEL": "3",
        "OTHER_CFLAGS": [
          "-std=gnu11",
          "-fomit-frame-pointer"
        ]
      }
    }
  ]
}
