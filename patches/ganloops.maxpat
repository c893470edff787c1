{
  "patcher": {
    "fileversion": 1,
    "appversion": {
      "major": 8,
      "minor": 5,
      "revision": 0,
      "architecture": "x64",
      "modernui": 1
    },
    "classnamespace": "box",
    "rect": [
      60.0,
      80.0,
      1240.0,
      760.0
    ],
    "openinpresentation": 1,
    "default_fontsize": 10.0,
    "default_fontface": 0,
    "default_fontname": "Arial Bold",
    "gridonopen": 1,
    "gridsize": [
      8.0,
      8.0
    ],
    "description": "ganloops: OSC control surface",
    "boxes": [
      {
        "box": {
          "id": "obj-1",
          "maxclass": "newobj",
          "numinlets": 1,
          "numoutlets": 0,
          "patching_rect": [
            20,
            1000,
            160,
            22.0
          ],
          "text": "udpsend 127.0.0.1 9000"
        }
      },
      {
        "box": {
          "id": "obj-2",
          "maxclass": "newobj",
          "numinlets": 1,
          "numoutlets": 1,
          "patching_rect": [
            400,
            1000,
            120,
            22.0
          ],
          "outlettype": [
            ""
          ],
          "text": "udpreceive 9001"
        }
      },
      {
        "box": {
          "id": "obj-3",
          "maxclass": "comment",
          "numinlets": 1,
          "numoutlets": 0,
          "patching_rect": [
            20,
            970,
            700,
            20
          ],
          "text": "OSC to 127.0.0.1:9000; feedback on port 9001 (subscribed at load). Edit the udpsend / udpreceive / message boxes to change ports."
        }
      },
      {
        "box": {
          "id": "obj-4",
          "maxclass": "comment",
          "numinlets": 1,
          "numoutlets": 0,
          "patching_rect": [
            20,
            300.0,
            40,
            18
          ],
          "text": "deck 1",
          "presentation": 1,
          "presentation_rect": [
            2,
            2.0,
            40,
            18
          ]
        }
      },
      {
        "box": {
          "id": "obj-5",
          "maxclass": "live.dial",
          "numinlets": 1,
          "numoutlets": 2,
          "patching_rect": [
            44.0,
            400.0,
            44,
            48
          ],
          "outlettype": [
            "",
            ""
          ],
          "presentation": 1,
          "presentation_rect": [
            44.0,
            0.0,
            44,
            48
          ],
          "parameter_enable": 1,
          "saved_attribute_attributes": {
            "valueof": {
              "parameter_longname": "d1 k1",
              "parameter_shortname": "k1",
              "parameter_type": 0,
              "parameter_mmin": -1.0,
              "parameter_mmax": 1.0,
              "parameter_initial_enable": 1,
              "parameter_initial": [
                0.0
              ],
              "parameter_unitstyle": 1
            }
          }
        }
      },
      {
        "box": {
          "id": "obj-6",
          "maxclass": "newobj",
          "numinlets": 2,
          "numoutlets": 1,
          "patching_rect": [
            20,
            600,
            220,
            22.0
          ],
          "outlettype": [
            ""
          ],
          "text": "prepend /ganloops/deck/1/knob/1"
        }
      },
      {
        "box": {
          "id": "obj-7",
          "maxclass": "live.dial",
          "numinlets": 1,
          "numoutlets": 2,
          "patching_rect": [
            92.0,
            400.0,
            44,
            48
          ],
          "outlettype": [
            "",
            ""
          ],
          "presentation": 1,
          "presentation_rect": [
            92.0,
            0.0,
            44,
            48
          ],
          "parameter_enable": 1,
          "saved_attribute_attributes": {
            "valueof": {
              "parameter_longname": "d1 k2",
              "parameter_shortname": "k2",
              "parameter_type": 0,
              "parameter_mmin": -1.0,
              "parameter_mmax": 1.0,
              "parameter_initial_enable": 1,
              "parameter_initial": [
                0.0
              ],
              "parameter_unitstyle": 1
            }
          }
        }
      },
      {
        "box": {
          "id": "obj-8",
          "maxclass": "newobj",
          "numinlets": 2,
          "numoutlets": 1,
          "patching_rect": [
            28,
            610,
            220,
            22.0
          ],
          "outlettype": [
            ""
          ],
          "text": "prepend /ganloops/deck/1/knob/2"
        }
      },
      {
        "box": {
          "id": "obj-9",
          "maxclass": "live.dial",
          "numinlets": 1,
          "numoutlets": 2,
          "patching_rect": [
            140.0,
            400.0,
            44,
            48
          ],
          "outlettype": [
            "",
            ""
          ],
          "presentation": 1,
          "presentation_rect": [
            140.0,
            0.0,
            44,
            48
          ],
          "parameter_enable": 1,
          "saved_attribute_attributes": {
            "valueof": {
              "parameter_longname": "d1 k3",
              "parameter_shortname": "k3",
              "parameter_type": 0,
              "parameter_mmin": -1.0,
              "parameter_mmax": 1.0,
              "parameter_initial_enable": 1,
              "parameter_initial": [
                0.0
              ],
              "parameter_unitstyle": 1
            }
          }
        }
      },
      {
        "box": {
          "id": "obj-10",
          "maxclass": "newobj",
          "numinlets": 2,
          "numoutlets": 1,
          "patching_rect": [
            36,
            620,
            220,
            22.0
          ],
          "outlettype": [
            ""
          ],
          "text": "prepend /ganloops/deck/1/knob/3"
        }
      },
      {
        "box": {
          "id": "obj-11",
          "maxclass": "live.dial",
          "numinlets": 1,
          "numoutlets": 2,
          "patching_rect": [
            188.0,
            400.0,
            44,
            48
          ],
          "outlettype": [
            "",
            ""
          ],
          "presentation": 1,
          "presentation_rect": [
            188.0,
            0.0,
            44,
            48
          ],
          "parameter_enable": 1,
          "saved_attribute_attributes": {
            "valueof": {
              "parameter_longname": "d1 k4",
              "parameter_shortname": "k4",
              "parameter_type": 0,
              "parameter_mmin": -1.0,
              "parameter_mmax": 1.0,
              "parameter_initial_enable": 1,
              "parameter_initial": [
                0.0
              ],
              "parameter_unitstyle": 1
            }
          }
        }
      },
      {
        "box": {
          "id": "obj-12",
          "maxclass": "newobj",
          "numinlets": 2,
          "numoutlets": 1,
          "patching_rect": [
            44,
            630,
            220,
            22.0
          ],
          "outlettype": [
            ""
          ],
          "text": "prepend /ganloops/deck/1/knob/4"
        }
      },
      {
        "box": {
          "id": "obj-13",
          "maxclass": "live.dial",
          "numinlets": 1,
          "numoutlets": 2,
          "patching_rect": [
            236.0,
            400.0,
            44,
            48
          ],
          "outlettype": [
            "",
            ""
          ],
          "presentation": 1,
          "presentation_rect": [
            236.0,
            0.0,
            44,
            48
          ],
          "parameter_enable": 1,
          "saved_attribute_attributes": {
            "valueof": {
              "parameter_longname": "d1 k5",
              "parameter_shortname": "k5",
              "parameter_type": 0,
              "parameter_mmin": -1.0,
              "parameter_mmax": 1.0,
              "parameter_initial_enable": 1,
              "parameter_initial": [
                0.0
              ],
              "parameter_unitstyle": 1
            }
          }
        }
      },
      {
        "box": {
          "id": "obj-14",
          "maxclass": "newobj",
          "numinlets": 2,
          "numoutlets": 1,
          "patching_rect": [
            52,
            640,
            220,
            22.0
          ],
          "outlettype": [
            ""
          ],
          "text": "prepend /ganloops/deck/1/knob/5"
        }
      },
      {
        "box": {
          "id": "obj-15",
          "maxclass": "live.dial",
          "numinlets": 1,
          "numoutlets": 2,
          "patching_rect": [
            284.0,
            400.0,
            44,
            48
          ],
          "outlettype": [
            "",
            ""
          ],
          "presentation": 1,
          "presentation_rect": [
            284.0,
            0.0,
            44,
            48
          ],
          "parameter_enable": 1,
          "saved_attribute_attributes": {
            "valueof": {
              "parameter_longname": "d1 k6",
              "parameter_shortname": "k6",
              "parameter_type": 0,
              "parameter_mmin": -1.0,
              "parameter_mmax": 1.0,
              "parameter_initial_enable": 1,
              "parameter_initial": [
                0.0
              ],
              "parameter_unitstyle": 1
            }
          }
        }
      },
      {
        "box": {
          "id": "obj-16",
          "maxclass": "newobj",
          "numinlets": 2,
          "numoutlets": 1,
          "patching_rect": [
            60,
            650,
            220,
            22.0
          ],
          "outlettype": [
            ""
          ],
          "text": "prepend /ganloops/deck/1/knob/6"
        }
      },
      {
        "box": {
          "id": "obj-17",
          "maxclass": "live.dial",
          "numinlets": 1,
          "numoutlets": 2,
          "patching_rect": [
            332.0,
            400.0,
            44,
            48
          ],
          "outlettype": [
            "",
            ""
          ],
          "presentation": 1,
          "presentation_rect": [
            332.0,
            0.0,
            44,
            48
          ],
          "parameter_enable": 1,
          "saved_attribute_attributes": {
            "valueof": {
              "parameter_longname": "d1 k7",
              "parameter_shortname": "k7",
              "parameter_type": 0,
              "parameter_mmin": -1.0,
              "parameter_mmax": 1.0,
              "parameter_initial_enable": 1,
              "parameter_initial": [
                0.0
              ],
              "parameter_unitstyle": 1
            }
          }
        }
      },
      {
        "box": {
          "id": "obj-18",
          "maxclass": "newobj",
          "numinlets": 2,
          "numoutlets": 1,
          "patching_rect": [
            68,
            660,
            220,
            22.0
          ],
          "outlettype": [
            ""
          ],
          "text": "prepend /ganloops/deck/1/knob/7"
        }
      },
      {
        "box": {
          "id": "obj-19",
          "maxclass": "live.dial",
          "numinlets": 1,
          "numoutlets": 2,
          "patching_rect": [
            380.0,
            400.0,
            44,
            48
          ],
          "outlettype": [
            "",
            ""
          ],
          "presentation": 1,
          "presentation_rect": [
            380.0,
            0.0,
            44,
            48
          ],
          "parameter_enable": 1,
          "saved_attribute_attributes": {
            "valueof": {
              "parameter_longname": "d1 k8",
              "parameter_shortname": "k8",
              "parameter_type": 0,
              "parameter_mmin": -1.0,
              "parameter_mmax": 1.0,
              "parameter_initial_enable": 1,
              "parameter_initial": [
                0.0
              ],
              "parameter_unitstyle": 1
            }
          }
        }
      },
      {
        "box": {
          "id": "obj-20",
          "maxclass": "newobj",
          "numinlets": 2,
          "numoutlets": 1,
          "patching_rect": [
            76,
            670,
            220,
            22.0
          ],
          "outlettype": [
            ""
          ],
          "text": "prepend /ganloops/deck/1/knob/8"
        }
      },
      {
        "box": {
          "id": "obj-21",
          "maxclass": "live.dial",
          "numinlets": 1,
          "numoutlets": 2,
          "patching_rect": [
            428.0,
            400.0,
            44,
            48
          ],
          "outlettype": [
            "",
            ""
          ],
          "presentation": 1,
          "presentation_rect": [
            428.0,
            0.0,
            44,
            48
          ],
          "parameter_enable": 1,
          "saved_attribute_attributes": {
            "valueof": {
              "parameter_longname": "d1 coarse",
              "parameter_shortname": "coarse",
              "parameter_type": 0,
              "parameter_mmin": 0.0,
              "parameter_mmax": 1.0,
              "parameter_initial_enable": 1,
              "parameter_initial": [
                0.0
              ],
              "parameter_unitstyle": 1
            }
          }
        }
      },
      {
        "box": {
          "id": "obj-22",
          "maxclass": "newobj",
          "numinlets": 2,
          "numoutlets": 1,
          "patching_rect": [
            84,
            680,
            220,
            22.0
          ],
          "outlettype": [
            ""
          ],
          "text": "prepend /ganloops/deck/1/mix/coarse"
        }
      },
      {
        "box": {
          "id": "obj-23",
          "maxclass": "live.dial",
          "numinlets": 1,
          "numoutlets": 2,
          "patching_rect": [
            476.0,
            400.0,
            44,
            48
          ],
          "outlettype": [
            "",
            ""
          ],
          "presentation": 1,
          "presentation_rect": [
            476.0,
            0.0,
            44,
            48
          ],
          "parameter_enable": 1,
          "saved_attribute_attributes": {
            "valueof": {
              "parameter_longname": "d1 middle",
              "parameter_shortname": "middle",
              "parameter_type": 0,
              "parameter_mmin": 0.0,
              "parameter_mmax": 1.0,
              "parameter_initial_enable": 1,
              "parameter_initial": [
                0.0
              ],
              "parameter_unitstyle": 1
            }
          }
        }
      },
      {
        "box": {
          "id": "obj-24",
          "maxclass": "newobj",
          "numinlets": 2,
          "numoutlets": 1,
          "patching_rect": [
            92,
            690,
            220,
            22.0
          ],
          "outlettype": [
            ""
          ],
          "text": "prepend /ganloops/deck/1/mix/middle"
        }
      },
      {
        "box": {
          "id": "obj-25",
          "maxclass": "live.dial",
          "numinlets": 1,
          "numoutlets": 2,
          "patching_rect": [
            524.0,
            400.0,
            44,
            48
          ],
          "outlettype": [
            "",
            ""
          ],
          "presentation": 1,
          "presentation_rect": [
            524.0,
            0.0,
            44,
            48
          ],
          "parameter_enable": 1,
          "saved_attribute_attributes": {
            "valueof": {
              "parameter_longname": "d1 fine",
              "parameter_shortname": "fine",
              "parameter_type": 0,
              "parameter_mmin": 0.0,
              "parameter_mmax": 1.0,
              "parameter_initial_enable": 1,
              "parameter_initial": [
                0.0
              ],
              "parameter_unitstyle": 1
            }
          }
        }
      },
      {
        "box": {
          "id": "obj-26",
          "maxclass": "newobj",
          "numinlets": 2,
          "numoutlets": 1,
          "patching_rect": [
            100,
            700,
            220,
            22.0
          ],
          "outlettype": [
            ""
          ],
          "text": "prepend /ganloops/deck/1/mix/fine"
        }
      },
      {
        "box": {
          "id": "obj-27",
          "maxclass": "live.dial",
          "numinlets": 1,
          "numoutlets": 2,
          "patching_rect": [
            572.0,
            400.0,
            44,
            48
          ],
          "outlettype": [
            "",
            ""
          ],
          "presentation": 1,
          "presentation_rect": [
            572.0,
            0.0,
            44,
            48
          ],
          "parameter_enable": 1,
          "saved_attribute_attributes": {
            "valueof": {
              "parameter_longname": "d1 psi",
              "parameter_shortname": "psi",
              "parameter_type": 0,
              "parameter_mmin": 0.0,
              "parameter_mmax": 2.0,
              "parameter_initial_enable": 1,
              "parameter_initial": [
                1.0
              ],
              "parameter_unitstyle": 1
            }
          }
        }
      },
      {
        "box": {
          "id": "obj-28",
          "maxclass": "newobj",
          "numinlets": 2,
          "numoutlets": 1,
          "patching_rect": [
            108,
            710,
            220,
            22.0
          ],
          "outlettype": [
            ""
          ],
          "text": "prepend /ganloops/deck/1/psi"
        }
      },
      {
        "box": {
          "id": "obj-29",
          "maxclass": "live.dial",
          "numinlets": 1,
          "numoutlets": 2,
          "patching_rect": [
            620.0,
            400.0,
            44,
            48
          ],
          "outlettype": [
            "",
            ""
          ],
          "presentation": 1,
          "presentation_rect": [
            620.0,
            0.0,
            44,
            48
          ],
          "parameter_enable": 1,
          "saved_attribute_attributes": {
            "valueof": {
              "parameter_longname": "d1 gain",
              "parameter_shortname": "gain",
              "parameter_type": 0,
              "parameter_mmin": 0.0,
              "parameter_mmax": 1.0,
              "parameter_initial_enable": 1,
              "parameter_initial": [
                1.0
              ],
              "parameter_unitstyle": 1
            }
          }
        }
      },
      {
        "box": {
          "id": "obj-30",
          "maxclass": "newobj",
          "numinlets": 2,
          "numoutlets": 1,
          "patching_rect": [
            116,
            720,
            220,
            22.0
          ],
          "outlettype": [
            ""
          ],
          "text": "prepend /ganloops/deck/1/gain"
        }
      },
      {
        "box": {
          "id": "obj-31",
          "maxclass": "live.toggle",
          "numinlets": 1,
          "numoutlets": 1,
          "patching_rect": [
            668.0,
            400.0,
            20,
            20
          ],
          "outlettype": [
            ""
          ],
          "presentation": 1,
          "presentation_rect": [
            680.0,
            18.0,
            20,
            20
          ],
          "parameter_enable": 1,
          "saved_attribute_attributes": {
            "valueof": {
              "parameter_longname": "d1 mute",
              "parameter_shortname": "mute",
              "parameter_type": 2,
              "parameter_mmin": 0.0,
              "parameter_mmax": 1.0,
              "parameter_initial_enable": 1,
              "parameter_initial": [
                0.0
              ],
              "parameter_enum": [
                "off",
                "on"
              ]
            }
          }
        }
      },
      {
        "box": {
          "id": "obj-32",
          "maxclass": "newobj",
          "numinlets": 2,
          "numoutlets": 1,
          "patching_rect": [
            124,
            730,
            220,
            22.0
          ],
          "outlettype": [
            ""
          ],
          "text": "prepend /ganloops/deck/1/mute"
        }
      },
      {
        "box": {
          "id": "obj-33",
          "maxclass": "number",
          "numinlets": 1,
          "numoutlets": 2,
          "patching_rect": [
            716.0,
            400.0,
            60,
            22
          ],
          "outlettype": [
            "",
            ""
          ],
          "presentation": 1,
          "presentation_rect": [
            716.0,
            18.0,
            56,
            20
          ],
          "minimum": 0.0,
          "maximum": 999999,
          "parameter_enable": 0
        }
      },
      {
        "box": {
          "id": "obj-34",
          "maxclass": "newobj",
          "numinlets": 2,
          "numoutlets": 1,
          "patching_rect": [
            132,
            740,
            220,
            22.0
          ],
          "outlettype": [
            ""
          ],
          "text": "prepend /ganloops/deck/1/seed"
        }
      },
      {
        "box": {
          "id": "obj-35",
          "maxclass": "button",
          "numinlets": 1,
          "numoutlets": 1,
          "patching_rect": [
            716.0,
            460.0,
            20,
            20
          ],
          "outlettype": [
            ""
          ],
          "presentation": 1,
          "presentation_rect": [
            774.0,
            18.0,
            18,
            18
          ]
        }
      },
      {
        "box": {
          "id": "obj-36",
          "maxclass": "newobj",
          "numinlets": 2,
          "numoutlets": 1,
          "patching_rect": [
            716.0,
            490.0,
            90,
            22.0
          ],
          "outlettype": [
            ""
          ],
          "text": "random 1000000"
        }
      },
      {
        "box": {
          "id": "obj-37",
          "maxclass": "comment",
          "numinlets": 1,
          "numoutlets": 0,
          "patching_rect": [
            716.0,
            440.0,
            56,
            18
          ],
          "text": "seed",
          "presentation": 1,
          "presentation_rect": [
            716.0,
            2.0,
            70,
            18
          ]
        }
      },
      {
        "box": {
          "id": "obj-38",
          "maxclass": "number",
          "numinlets": 1,
          "numoutlets": 2,
          "patching_rect": [
            812.0,
            400.0,
            60,
            22
          ],
          "outlettype": [
            "",
            ""
          ],
          "presentation": 1,
          "presentation_rect": [
            812.0,
            18.0,
            56,
            20
          ],
          "minimum": 0.0,
          "maximum": 999999,
          "parameter_enable": 0
        }
      },
      {
        "box": {
          "id": "obj-39",
          "maxclass": "newobj",
          "numinlets": 2,
          "numoutlets": 1,
          "patching_rect": [
            140,
            750,
            220,
            22.0
          ],
          "outlettype": [
            ""
          ],
          "text": "prepend /ganloops/deck/1/bseed"
        }
      },
      {
        "box": {
          "id": "obj-40",
          "maxclass": "button",
          "numinlets": 1,
          "numoutlets": 1,
          "patching_rect": [
            812.0,
            460.0,
            20,
            20
          ],
          "outlettype": [
            ""
          ],
          "presentation": 1,
          "presentation_rect": [
            870.0,
            18.0,
            18,
            18
          ]
        }
      },
      {
        "box": {
          "id": "obj-41",
          "maxclass": "newobj",
          "numinlets": 2,
          "numoutlets": 1,
          "patching_rect": [
            812.0,
            490.0,
            90,
            22.0
          ],
          "outlettype": [
            ""
          ],
          "text": "random 1000000"
        }
      },
      {
        "box": {
          "id": "obj-42",
          "maxclass": "comment",
          "numinlets": 1,
          "numoutlets": 0,
          "patching_rect": [
            812.0,
            440.0,
            56,
            18
          ],
          "text": "B seed",
          "presentation": 1,
          "presentation_rect": [
            812.0,
            2.0,
            70,
            18
          ]
        }
      },
      {
        "box": {
          "id": "obj-43",
          "maxclass": "comment",
          "numinlets": 1,
          "numoutlets": 0,
          "patching_rect": [
            20,
            380.0,
            40,
            18
          ],
          "text": "deck 2",
          "presentation": 1,
          "presentation_rect": [
            2,
            82.0,
            40,
            18
          ]
        }
      },
      {
        "box": {
          "id": "obj-44",
          "maxclass": "live.dial",
          "numinlets": 1,
          "numoutlets": 2,
          "patching_rect": [
            44.0,
            480.0,
            44,
            48
          ],
          "outlettype": [
            "",
            ""
          ],
          "presentation": 1,
          "presentation_rect": [
            44.0,
            80.0,
            44,
            48
          ],
          "parameter_enable": 1,
          "saved_attribute_attributes": {
            "valueof": {
              "parameter_longname": "d2 k1",
              "parameter_shortname": "k1",
              "parameter_type": 0,
              "parameter_mmin": -1.0,
              "parameter_mmax": 1.0,
              "parameter_initial_enable": 1,
              "parameter_initial": [
                0.0
              ],
              "parameter_unitstyle": 1
            }
          }
        }
      },
      {
        "box": {
          "id": "obj-45",
          "maxclass": "newobj",
          "numinlets": 2,
          "numoutlets": 1,
          "patching_rect": [
            148,
            760,
            220,
            22.0
          ],
          "outlettype": [
            ""
          ],
          "text": "prepend /ganloops/deck/2/knob/1"
        }
      },
      {
        "box": {
          "id": "obj-46",
          "maxclass": "live.dial",
          "numinlets": 1,
          "numoutlets": 2,
          "patching_rect": [
            92.0,
            480.0,
            44,
            48
          ],
          "outlettype": [
            "",
            ""
          ],
          "presentation": 1,
          "presentation_rect": [
            92.0,
            80.0,
            44,
            48
          ],
          "parameter_enable": 1,
          "saved_attribute_attributes": {
            "valueof": {
              "parameter_longname": "d2 k2",
              "parameter_shortname": "k2",
              "parameter_type": 0,
              "parameter_mmin": -1.0,
              "parameter_mmax": 1.0,
              "parameter_initial_enable": 1,
              "parameter_initial": [
                0.0
              ],
              "parameter_unitstyle": 1
            }
          }
        }
      },
      {
        "box": {
          "id": "obj-47",
          "maxclass": "newobj",
          "numinlets": 2,
          "numoutlets": 1,
          "patching_rect": [
            156,
            770,
            220,
            22.0
          ],
          "outlettype": [
            ""
          ],
          "text": "prepend /ganloops/deck/2/knob/2"
        }
      },
      {
        "box": {
          "id": "obj-48",
          "maxclass": "live.dial",
          "numinlets": 1,
          "numoutlets": 2,
          "patching_rect": [
            140.0,
            480.0,
            44,
            48
          ],
          "outlettype": [
            "",
            ""
          ],
          "presentation": 1,
          "presentation_rect": [
            140.0,
            80.0,
            44,
            48
          ],
          "parameter_enable": 1,
          "saved_attribute_attributes": {
            "valueof": {
              "parameter_longname": "d2 k3",
              "parameter_shortname": "k3",
              "parameter_type": 0,
              "parameter_mmin": -1.0,
              "parameter_mmax": 1.0,
              "parameter_initial_enable": 1,
              "parameter_initial": [
                0.0
              ],
              "parameter_unitstyle": 1
            }
          }
        }
      },
      {
        "box": {
          "id": "obj-49",
          "maxclass": "newobj",
          "numinlets": 2,
          "numoutlets": 1,
          "patching_rect": [
            164,
            780,
            220,
            22.0
          ],
          "outlettype": [
            ""
          ],
          "text": "prepend /ganloops/deck/2/knob/3"
        }
      },
      {
        "box": {
          "id": "obj-50",
          "maxclass": "live.dial",
          "numinlets": 1,
          "numoutlets": 2,
          "patching_rect": [
            188.0,
            480.0,
            44,
            48
          ],
          "outlettype": [
            "",
            ""
          ],
          "presentation": 1,
          "presentation_rect": [
            188.0,
            80.0,
            44,
            48
          ],
          "parameter_enable": 1,
          "saved_attribute_attributes": {
            "valueof": {
              "parameter_longname": "d2 k4",
              "parameter_shortname": "k4",
              "parameter_type": 0,
              "parameter_mmin": -1.0,
              "parameter_mmax": 1.0,
              "parameter_initial_enable": 1,
              "parameter_initial": [
                0.0
              ],
              "parameter_unitstyle": 1
            }
          }
        }
      },
      {
        "box": {
          "id": "obj-51",
          "maxclass": "newobj",
          "numinlets": 2,
          "numoutlets": 1,
          "patching_rect": [
            172,
            790,
            220,
            22.0
          ],
          "outlettype": [
            ""
          ],
          "text": "prepend /ganloops/deck/2/knob/4"
        }
      },
      {
        "box": {
          "id": "obj-52",
          "maxclass": "live.dial",
          "numinlets": 1,
          "numoutlets": 2,
          "patching_rect": [
            236.0,
            480.0,
            44,
            48
          ],
          "outlettype": [
            "",
            ""
          ],
          "presentation": 1,
          "presentation_rect": [
            236.0,
            80.0,
            44,
            48
          ],
          "parameter_enable": 1,
          "saved_attribute_attributes": {
            "valueof": {
              "parameter_longname": "d2 k5",
              "parameter_shortname": "k5",
              "parameter_type": 0,
              "parameter_mmin": -1.0,
              "parameter_mmax": 1.0,
              "parameter_initial_enable": 1,
              "parameter_initial": [
                0.0
              ],
              "parameter_unitstyle": 1
            }
          }
        }
      },
      {
        "box": {
          "id": "obj-53",
          "maxclass": "newobj",
          "numinlets": 2,
          "numoutlets": 1,
          "patching_rect": [
            180,
            800,
            220,
            22.0
          ],
          "outlettype": [
            ""
          ],
          "text": "prepend /ganloops/deck/2/knob/5"
        }
      },
      {
        "box": {
          "id": "obj-54",
          "maxclass": "live.dial",
          "numinlets": 1,
          "numoutlets": 2,
          "patching_rect": [
            284.0,
            480.0,
            44,
            48
          ],
          "outlettype": [
            "",
            ""
          ],
          "presentation": 1,
          "presentation_rect": [
            284.0,
            80.0,
            44,
            48
          ],
          "parameter_enable": 1,
          "saved_attribute_attributes": {
            "valueof": {
              "parameter_longname": "d2 k6",
              "parameter_shortname": "k6",
              "parameter_type": 0,
              "parameter_mmin": -1.0,
              "parameter_mmax": 1.0,
              "parameter_initial_enable": 1,
              "parameter_initial": [
                0.0
              ],
              "parameter_unitstyle": 1
            }
          }
        }
      },
      {
        "box": {
          "id": "obj-55",
          "maxclass": "newobj",
          "numinlets": 2,
          "numoutlets": 1,
          "patching_rect": [
            188,
            810,
            220,
            22.0
          ],
          "outlettype": [
            ""
          ],
          "text": "prepend /ganloops/deck/2/knob/6"
        }
      },
      {
        "box": {
          "id": "obj-56",
          "maxclass": "live.dial",
          "numinlets": 1,
          "numoutlets": 2,
          "patching_rect": [
            332.0,
            480.0,
            44,
            48
          ],
          "outlettype": [
            "",
            ""
          ],
          "presentation": 1,
          "presentation_rect": [
            332.0,
            80.0,
            44,
            48
          ],
          "parameter_enable": 1,
          "saved_attribute_attributes": {
            "valueof": {
              "parameter_longname": "d2 k7",
              "parameter_shortname": "k7",
              "parameter_type": 0,
              "parameter_mmin": -1.0,
              "parameter_mmax": 1.0,
              "parameter_initial_enable": 1,
              "parameter_initial": [
                0.0
              ],
              "parameter_unitstyle": 1
            }
          }
        }
      },
      {
        "box": {
          "id": "obj-57",
          "maxclass": "newobj",
          "numinlets": 2,
          "numoutlets": 1,
          "patching_rect": [
            196,
            820,
            220,
            22.0
          ],
          "outlettype": [
            ""
          ],
          "text": "prepend /ganloops/deck/2/knob/7"
        }
      },
      {
        "box": {
          "id": "obj-58",
          "maxclass": "live.dial",
          "numinlets": 1,
          "numoutlets": 2,
          "patching_rect": [
            380.0,
            480.0,
            44,
            48
          ],
          "outlettype": [
            "",
            ""
          ],
          "presentation": 1,
          "presentation_rect": [
            380.0,
            80.0,
            44,
            48
          ],
          "parameter_enable": 1,
          "saved_attribute_attributes": {
            "valueof": {
              "parameter_longname": "d2 k8",
              "parameter_shortname": "k8",
              "parameter_type": 0,
              "parameter_mmin": -1.0,
              "parameter_mmax": 1.0,
              "parameter_initial_enable": 1,
              "parameter_initial": [
                0.0
              ],
              "parameter_unitstyle": 1
            }
          }
        }
      },
      {
        "box": {
          "id": "obj-59",
          "maxclass": "newobj",
          "numinlets": 2,
          "numoutlets": 1,
          "patching_rect": [
            204,
            830,
            220,
            22.0
          ],
          "outlettype": [
            ""
          ],
          "text": "prepend /ganloops/deck/2/knob/8"
        }
      },
      {
        "box": {
          "id": "obj-60",
          "maxclass": "live.dial",
          "numinlets": 1,
          "numoutlets": 2,
          "patching_rect": [
            428.0,
            480.0,
            44,
            48
          ],
          "outlettype": [
            "",
            ""
          ],
          "presentation": 1,
          "presentation_rect": [
            428.0,
            80.0,
            44,
            48
          ],
          "parameter_enable": 1,
          "saved_attribute_attributes": {
            "valueof": {
              "parameter_longname": "d2 coarse",
              "parameter_shortname": "coarse",
              "parameter_type": 0,
              "parameter_mmin": 0.0,
              "parameter_mmax": 1.0,
              "parameter_initial_enable": 1,
              "parameter_initial": [
                0.0
              ],
              "parameter_unitstyle": 1
            }
          }
        }
      },
      {
        "box": {
          "id": "obj-61",
          "maxclass": "newobj",
          "numinlets": 2,
          "numoutlets": 1,
          "patching_rect": [
            212,
            840,
            220,
            22.0
          ],
          "outlettype": [
            ""
          ],
          "text": "prepend /ganloops/deck/2/mix/coarse"
        }
      },
      {
        "box": {
          "id": "obj-62",
          "maxclass": "live.dial",
          "numinlets": 1,
          "numoutlets": 2,
          "patching_rect": [
            476.0,
            480.0,
            44,
            48
          ],
          "outlettype": [
            "",
            ""
          ],
          "presentation": 1,
          "presentation_rect": [
            476.0,
            80.0,
            44,
            48
          ],
          "parameter_enable": 1,
          "saved_attribute_attributes": {
            "valueof": {
              "parameter_longname": "d2 middle",
              "parameter_shortname": "middle",
              "parameter_type": 0,
              "parameter_mmin": 0.0,
              "parameter_mmax": 1.0,
              "parameter_initial_enable": 1,
              "parameter_initial": [
                0.0
              ],
              "parameter_unitstyle": 1
            }
          }
        }
      },
      {
        "box": {
          "id": "obj-63",
          "maxclass": "newobj",
          "numinlets": 2,
          "numoutlets": 1,
          "patching_rect": [
            220,
            850,
            220,
            22.0
          ],
          "outlettype": [
            ""
          ],
          "text": "prepend /ganloops/deck/2/mix/middle"
        }
      },
      {
        "box": {
          "id": "obj-64",
          "maxclass": "live.dial",
          "numinlets": 1,
          "numoutlets": 2,
          "patching_rect": [
            524.0,
            480.0,
            44,
            48
          ],
          "outlettype": [
            "",
            ""
          ],
          "presentation": 1,
          "presentation_rect": [
            524.0,
            80.0,
            44,
            48
          ],
          "parameter_enable": 1,
          "saved_attribute_attributes": {
            "valueof": {
              "parameter_longname": "d2 fine",
              "parameter_shortname": "fine",
              "parameter_type": 0,
              "parameter_mmin": 0.0,
              "parameter_mmax": 1.0,
              "parameter_initial_enable": 1,
              "parameter_initial": [
                0.0
              ],
              "parameter_unitstyle": 1
            }
          }
        }
      },
      {
        "box": {
          "id": "obj-65",
          "maxclass": "newobj",
          "numinlets": 2,
          "numoutlets": 1,
          "patching_rect": [
            228,
            860,
            220,
            22.0
          ],
          "outlettype": [
            ""
          ],
          "text": "prepend /ganloops/deck/2/mix/fine"
        }
      },
      {
        "box": {
          "id": "obj-66",
          "maxclass": "live.dial",
          "numinlets": 1,
          "numoutlets": 2,
          "patching_rect": [
            572.0,
            480.0,
            44,
            48
          ],
          "outlettype": [
            "",
            ""
          ],
          "presentation": 1,
          "presentation_rect": [
            572.0,
            80.0,
            44,
            48
          ],
          "parameter_enable": 1,
          "saved_attribute_attributes": {
            "valueof": {
              "parameter_longname": "d2 psi",
              "parameter_shortname": "psi",
              "parameter_type": 0,
              "parameter_mmin": 0.0,
              "parameter_mmax": 2.0,
              "parameter_initial_enable": 1,
              "parameter_initial": [
                1.0
              ],
              "parameter_unitstyle": 1
            }
          }
        }
      },
      {
        "box": {
          "id": "obj-67",
          "maxclass": "newobj",
          "numinlets": 2,
          "numoutlets": 1,
          "patching_rect": [
            236,
            870,
            220,
            22.0
          ],
          "outlettype": [
            ""
          ],
          "text": "prepend /ganloops/deck/2/psi"
        }
      },
      {
        "box": {
          "id": "obj-68",
          "maxclass": "live.dial",
          "numinlets": 1,
          "numoutlets": 2,
          "patching_rect": [
            620.0,
            480.0,
            44,
            48
          ],
          "outlettype": [
            "",
            ""
          ],
          "presentation": 1,
          "presentation_rect": [
            620.0,
            80.0,
            44,
            48
          ],
          "parameter_enable": 1,
          "saved_attribute_attributes": {
            "valueof": {
              "parameter_longname": "d2 gain",
              "parameter_shortname": "gain",
              "parameter_type": 0,
              "parameter_mmin": 0.0,
              "parameter_mmax": 1.0,
              "parameter_initial_enable": 1,
              "parameter_initial": [
                1.0
              ],
              "parameter_unitstyle": 1
            }
          }
        }
      },
      {
        "box": {
          "id": "obj-69",
          "maxclass": "newobj",
          "numinlets": 2,
          "numoutlets": 1,
          "patching_rect": [
            244,
            880,
            220,
            22.0
          ],
          "outlettype": [
            ""
          ],
          "text": "prepend /ganloops/deck/2/gain"
        }
      },
      {
        "box": {
          "id": "obj-70",
          "maxclass": "live.toggle",
          "numinlets": 1,
          "numoutlets": 1,
          "patching_rect": [
            668.0,
            480.0,
            20,
            20
          ],
          "outlettype": [
            ""
          ],
          "presentation": 1,
          "presentation_rect": [
            680.0,
            98.0,
            20,
            20
          ],
          "parameter_enable": 1,
          "saved_attribute_attributes": {
            "valueof": {
              "parameter_longname": "d2 mute",
              "parameter_shortname": "mute",
              "parameter_type": 2,
              "parameter_mmin": 0.0,
              "parameter_mmax": 1.0,
              "parameter_initial_enable": 1,
              "parameter_initial": [
                0.0
              ],
              "parameter_enum": [
                "off",
                "on"
              ]
            }
          }
        }
      },
      {
        "box": {
          "id": "obj-71",
          "maxclass": "newobj",
          "numinlets": 2,
          "numoutlets": 1,
          "patching_rect": [
            252,
            890,
            220,
            22.0
          ],
          "outlettype": [
            ""
          ],
          "text": "prepend /ganloops/deck/2/mute"
        }
      },
      {
        "box": {
          "id": "obj-72",
          "maxclass": "number",
          "numinlets": 1,
          "numoutlets": 2,
          "patching_rect": [
            716.0,
            480.0,
            60,
            22
          ],
          "outlettype": [
            "",
            ""
          ],
          "presentation": 1,
          "presentation_rect": [
            716.0,
            98.0,
            56,
            20
          ],
          "minimum": 0.0,
          "maximum": 999999,
          "parameter_enable": 0
        }
      },
      {
        "box": {
          "id": "obj-73",
          "maxclass": "newobj",
          "numinlets": 2,
          "numoutlets": 1,
          "patching_rect": [
            260,
            900,
            220,
            22.0
          ],
          "outlettype": [
            ""
          ],
          "text": "prepend /ganloops/deck/2/seed"
        }
      },
      {
        "box": {
          "id": "obj-74",
          "maxclass": "button",
          "numinlets": 1,
          "numoutlets": 1,
          "patching_rect": [
            716.0,
            540.0,
            20,
            20
          ],
          "outlettype": [
            ""
          ],
          "presentation": 1,
          "presentation_rect": [
            774.0,
            98.0,
            18,
            18
          ]
        }
      },
      {
        "box": {
          "id": "obj-75",
          "maxclass": "newobj",
          "numinlets": 2,
          "numoutlets": 1,
          "patching_rect": [
            716.0,
            570.0,
            90,
            22.0
          ],
          "outlettype": [
            ""
          ],
          "text": "random 1000000"
        }
      },
      {
        "box": {
          "id": "obj-76",
          "maxclass": "comment",
          "numinlets": 1,
          "numoutlets": 0,
          "patching_rect": [
            716.0,
            520.0,
            56,
            18
          ],
          "text": "seed",
          "presentation": 1,
          "presentation_rect": [
            716.0,
            82.0,
            70,
            18
          ]
        }
      },
      {
        "box": {
          "id": "obj-77",
          "maxclass": "number",
          "numinlets": 1,
          "numoutlets": 2,
          "patching_rect": [
            812.0,
            480.0,
            60,
            22
          ],
          "outlettype": [
            "",
            ""
          ],
          "presentation": 1,
          "presentation_rect": [
            812.0,
            98.0,
            56,
            20
          ],
          "minimum": 0.0,
          "maximum": 999999,
          "parameter_enable": 0
        }
      },
      {
        "box": {
          "id": "obj-78",
          "maxclass": "newobj",
          "numinlets": 2,
          "numoutlets": 1,
          "patching_rect": [
            268,
            910,
            220,
            22.0
          ],
          "outlettype": [
            ""
          ],
          "text": "prepend /ganloops/deck/2/bseed"
        }
      },
      {
        "box": {
          "id": "obj-79",
          "maxclass": "button",
          "numinlets": 1,
          "numoutlets": 1,
          "patching_rect": [
            812.0,
            540.0,
            20,
            20
          ],
          "outlettype": [
            ""
          ],
          "presentation": 1,
          "presentation_rect": [
            870.0,
            98.0,
            18,
            18
          ]
        }
      },
      {
        "box": {
          "id": "obj-80",
          "maxclass": "newobj",
          "numinlets": 2,
          "numoutlets": 1,
          "patching_rect": [
            812.0,
            570.0,
            90,
            22.0
          ],
          "outlettype": [
            ""
          ],
          "text": "random 1000000"
        }
      },
      {
        "box": {
          "id": "obj-81",
          "maxclass": "comment",
          "numinlets": 1,
          "numoutlets": 0,
          "patching_rect": [
            812.0,
            520.0,
            56,
            18
          ],
          "text": "B seed",
          "presentation": 1,
          "presentation_rect": [
            812.0,
            82.0,
            70,
            18
          ]
        }
      },
      {
        "box": {
          "id": "obj-82",
          "maxclass": "live.dial",
          "numinlets": 1,
          "numoutlets": 2,
          "patching_rect": [
            924.0,
            400.0,
            44,
            48
          ],
          "outlettype": [
            "",
            ""
          ],
          "presentation": 1,
          "presentation_rect": [
            924.0,
            0.0,
            44,
            48
          ],
          "parameter_enable": 1,
          "saved_attribute_attributes": {
            "valueof": {
              "parameter_longname": "crossfade",
              "parameter_shortname": "crossfade",
              "parameter_type": 0,
              "parameter_mmin": 0.0,
              "parameter_mmax": 1.0,
              "parameter_initial_enable": 1,
              "parameter_initial": [
                0.5
              ],
              "parameter_unitstyle": 1
            }
          }
        }
      },
      {
        "box": {
          "id": "obj-83",
          "maxclass": "newobj",
          "numinlets": 2,
          "numoutlets": 1,
          "patching_rect": [
            276,
            920,
            220,
            22.0
          ],
          "outlettype": [
            ""
          ],
          "text": "prepend /ganloops/crossfade"
        }
      },
      {
        "box": {
          "id": "obj-84",
          "maxclass": "flonum",
          "numinlets": 1,
          "numoutlets": 2,
          "patching_rect": [
            988.0,
            400.0,
            60,
            22
          ],
          "outlettype": [
            "",
            ""
          ],
          "presentation": 1,
          "presentation_rect": [
            988.0,
            18.0,
            56,
            20
          ],
          "minimum": 20.0,
          "maximum": 400.0,
          "parameter_enable": 0
        }
      },
      {
        "box": {
          "id": "obj-85",
          "maxclass": "newobj",
          "numinlets": 2,
          "numoutlets": 1,
          "patching_rect": [
            284,
            930,
            220,
            22.0
          ],
          "outlettype": [
            ""
          ],
          "text": "prepend /ganloops/tempo"
        }
      },
      {
        "box": {
          "id": "obj-86",
          "maxclass": "comment",
          "numinlets": 1,
          "numoutlets": 0,
          "patching_rect": [
            988.0,
            440,
            56,
            18
          ],
          "text": "BPM",
          "presentation": 1,
          "presentation_rect": [
            988.0,
            2,
            56,
            18
          ]
        }
      },
      {
        "box": {
          "id": "obj-87",
          "maxclass": "textedit",
          "numinlets": 1,
          "numoutlets": 4,
          "patching_rect": [
            924.0,
            520,
            120,
            22
          ],
          "outlettype": [
            "",
            "",
            "",
            ""
          ],
          "presentation": 1,
          "presentation_rect": [
            924.0,
            80,
            124,
            22
          ],
          "lines": 1,
          "keymode": 1
        }
      },
      {
        "box": {
          "id": "obj-88",
          "maxclass": "newobj",
          "numinlets": 2,
          "numoutlets": 2,
          "patching_rect": [
            924.0,
            550,
            70,
            22.0
          ],
          "outlettype": [
            "",
            ""
          ],
          "text": "route text"
        }
      },
      {
        "box": {
          "id": "obj-89",
          "maxclass": "newobj",
          "numinlets": 1,
          "numoutlets": 1,
          "patching_rect": [
            924.0,
            580,
            70,
            22.0
          ],
          "outlettype": [
            ""
          ],
          "text": "tosymbol"
        }
      },
      {
        "box": {
          "id": "obj-90",
          "maxclass": "number",
          "numinlets": 1,
          "numoutlets": 2,
          "patching_rect": [
            1124.0,
            520,
            50,
            22
          ],
          "outlettype": [
            "",
            ""
          ],
          "presentation": 1,
          "presentation_rect": [
            1008.0,
            106,
            40,
            20
          ],
          "minimum": 0,
          "maximum": 4096
        }
      },
      {
        "box": {
          "id": "obj-91",
          "maxclass": "message",
          "numinlets": 2,
          "numoutlets": 1,
          "patching_rect": [
            1124.0,
            490,
            30,
            22
          ],
          "outlettype": [
            ""
          ],
          "text": "16"
        }
      },
      {
        "box": {
          "id": "obj-92",
          "maxclass": "newobj",
          "numinlets": 1,
          "numoutlets": 1,
          "patching_rect": [
            1224.0,
            430,
            60,
            22.0
          ],
          "outlettype": [
            ""
          ],
          "text": "loadbang"
        }
      },
      {
        "box": {
          "id": "obj-93",
          "maxclass": "comment",
          "numinlets": 1,
          "numoutlets": 0,
          "patching_rect": [
            946.0,
            650,
            60,
            18
          ],
          "text": "save",
          "presentation": 1,
          "presentation_rect": [
            940.0,
            130,
            50,
            18
          ]
        }
      },
      {
        "box": {
          "id": "obj-94",
          "maxclass": "button",
          "numinlets": 1,
          "numoutlets": 1,
          "patching_rect": [
            924.0,
            650,
            20,
            20
          ],
          "outlettype": [
            ""
          ],
          "presentation": 1,
          "presentation_rect": [
            924.0,
            130,
            16,
            16
          ]
        }
      },
      {
        "box": {
          "id": "obj-95",
          "maxclass": "newobj",
          "numinlets": 2,
          "numoutlets": 2,
          "patching_rect": [
            924.0,
            680,
            60,
            22.0
          ],
          "outlettype": [
            "",
            ""
          ],
          "text": "zl reg"
        }
      },
      {
        "box": {
          "id": "obj-96",
          "maxclass": "newobj",
          "numinlets": 2,
          "numoutlets": 1,
          "patching_rect": [
            924.0,
            770,
            200,
            22.0
          ],
          "outlettype": [
            ""
          ],
          "text": "prepend /ganloops/scene/save"
        }
      },
      {
        "box": {
          "id": "obj-97",
          "maxclass": "comment",
          "numinlets": 1,
          "numoutlets": 0,
          "patching_rect": [
            1016.0,
            650,
            60,
            18
          ],
          "text": "recall",
          "presentation": 1,
          "presentation_rect": [
            982.0,
            130,
            50,
            18
          ]
        }
      },
      {
        "box": {
          "id": "obj-98",
          "maxclass": "button",
          "numinlets": 1,
          "numoutlets": 1,
          "patching_rect": [
            994.0,
            650,
            20,
            20
          ],
          "outlettype": [
            ""
          ],
          "presentation": 1,
          "presentation_rect": [
            966.0,
            130,
            16,
            16
          ]
        }
      },
      {
        "box": {
          "id": "obj-99",
          "maxclass": "newobj",
          "numinlets": 2,
          "numoutlets": 2,
          "patching_rect": [
            994.0,
            680,
            60,
            22.0
          ],
          "outlettype": [
            "",
            ""
          ],
          "text": "zl reg"
        }
      },
      {
        "box": {
          "id": "obj-100",
          "maxclass": "newobj",
          "numinlets": 2,
          "numoutlets": 1,
          "patching_rect": [
            994.0,
            770,
            200,
            22.0
          ],
          "outlettype": [
            ""
          ],
          "text": "prepend /ganloops/scene/recall"
        }
      },
      {
        "box": {
          "id": "obj-101",
          "maxclass": "comment",
          "numinlets": 1,
          "numoutlets": 0,
          "patching_rect": [
            1086.0,
            650,
            60,
            18
          ],
          "text": "morph",
          "presentation": 1,
          "presentation_rect": [
            1024.0,
            130,
            50,
            18
          ]
        }
      },
      {
        "box": {
          "id": "obj-102",
          "maxclass": "button",
          "numinlets": 1,
          "numoutlets": 1,
          "patching_rect": [
            1064.0,
            650,
            20,
            20
          ],
          "outlettype": [
            ""
          ],
          "presentation": 1,
          "presentation_rect": [
            1008.0,
            130,
            16,
            16
          ]
        }
      },
      {
        "box": {
          "id": "obj-103",
          "maxclass": "newobj",
          "numinlets": 2,
          "numoutlets": 2,
          "patching_rect": [
            1064.0,
            680,
            60,
            22.0
          ],
          "outlettype": [
            "",
            ""
          ],
          "text": "zl reg"
        }
      },
      {
        "box": {
          "id": "obj-104",
          "maxclass": "newobj",
          "numinlets": 2,
          "numoutlets": 1,
          "patching_rect": [
            1064.0,
            710,
            70,
            22.0
          ],
          "outlettype": [
            ""
          ],
          "text": "pack s 16"
        }
      },
      {
        "box": {
          "id": "obj-105",
          "maxclass": "newobj",
          "numinlets": 2,
          "numoutlets": 1,
          "patching_rect": [
            1064.0,
            770,
            200,
            22.0
          ],
          "outlettype": [
            ""
          ],
          "text": "prepend /ganloops/scene/morph"
        }
      },
      {
        "box": {
          "id": "obj-106",
          "maxclass": "comment",
          "numinlets": 1,
          "numoutlets": 0,
          "patching_rect": [
            1054.0,
            520,
            40,
            18
          ],
          "text": "scene",
          "presentation": 1,
          "presentation_rect": [
            924.0,
            62,
            60,
            18
          ]
        }
      },
      {
        "box": {
          "id": "obj-107",
          "maxclass": "comment",
          "numinlets": 1,
          "numoutlets": 0,
          "patching_rect": [
            1184.0,
            520,
            40,
            18
          ],
          "text": "beats",
          "presentation": 1,
          "presentation_rect": [
            966.0,
            106,
            40,
            18
          ]
        }
      },
      {
        "box": {
          "id": "obj-108",
          "maxclass": "message",
          "numinlets": 2,
          "numoutlets": 1,
          "patching_rect": [
            20,
            930,
            200,
            22
          ],
          "outlettype": [
            ""
          ],
          "text": "/ganloops/subscribe 9001"
        }
      },
      {
        "box": {
          "id": "obj-109",
          "maxclass": "message",
          "numinlets": 2,
          "numoutlets": 1,
          "patching_rect": [
            240,
            930,
            200,
            22
          ],
          "outlettype": [
            ""
          ],
          "text": "/ganloops/query 9001"
        }
      },
      {
        "box": {
          "id": "obj-110",
          "maxclass": "newobj",
          "numinlets": 1,
          "numoutlets": 1,
          "patching_rect": [
            20,
            900,
            60,
            22.0
          ],
          "outlettype": [
            ""
          ],
          "text": "deferlow"
        }
      },
      {
        "box": {
          "id": "obj-111",
          "maxclass": "comment",
          "numinlets": 1,
          "numoutlets": 0,
          "patching_rect": [
            946.0,
            880,
            60,
            18
          ],
          "text": "subscribe",
          "presentation": 1,
          "presentation_rect": [
            940.0,
            150,
            50,
            18
          ]
        }
      },
      {
        "box": {
          "id": "obj-112",
          "maxclass": "button",
          "numinlets": 1,
          "numoutlets": 1,
          "patching_rect": [
            924.0,
            880,
            20,
            20
          ],
          "outlettype": [
            ""
          ],
          "presentation": 1,
          "presentation_rect": [
            924.0,
            150,
            16,
            16
          ]
        }
      },
      {
        "box": {
          "id": "obj-113",
          "maxclass": "comment",
          "numinlets": 1,
          "numoutlets": 0,
          "patching_rect": [
            1010.0,
            880,
            60,
            18
          ],
          "text": "query",
          "presentation": 1,
          "presentation_rect": [
            1004.0,
            150,
            50,
            18
          ]
        }
      },
      {
        "box": {
          "id": "obj-114",
          "maxclass": "button",
          "numinlets": 1,
          "numoutlets": 1,
          "patching_rect": [
            988.0,
            880,
            20,
            20
          ],
          "outlettype": [
            ""
          ],
          "presentation": 1,
          "presentation_rect": [
            988.0,
            150,
            16,
            16
          ]
        }
      },
      {
        "box": {
          "id": "obj-115",
          "maxclass": "newobj",
          "numinlets": 2,
          "numoutlets": 35,
          "patching_rect": [
            400,
            1040,
            700,
            22.0
          ],
          "outlettype": [
            "",
            "",
            "",
            "",
            "",
            "",
            "",
            "",
            "",
            "",
            "",
            "",
            "",
            "",
            "",
            "",
            "",
            "",
            "",
            "",
            "",
            "",
            "",
            "",
            "",
            "",
            "",
            "",
            "",
            "",
            "",
            "",
            "",
            "",
            ""
          ],
          "text": "route /ganloops/deck/1/knob/1 /ganloops/deck/1/knob/2 /ganloops/deck/1/knob/3 /ganloops/deck/1/knob/4 /ganloops/deck/1/knob/5 /ganloops/deck/1/knob/6 /ganloops/deck/1/knob/7 /ganloops/deck/1/knob/8 /ganloops/deck/1/mix/coarse /ganloops/deck/1/mix/middle /ganloops/deck/1/mix/fine /ganloops/deck/1/psi /ganloops/deck/1/gain /ganloops/deck/1/mute /ganloops/deck/1/seed /ganloops/deck/1/bseed /ganloops/deck/2/knob/1 /ganloops/deck/2/knob/2 /ganloops/deck/2/knob/3 /ganloops/deck/2/knob/4 /ganloops/deck/2/knob/5 /ganloops/deck/2/knob/6 /ganloops/deck/2/knob/7 /ganloops/deck/2/knob/8 /ganloops/deck/2/mix/coarse /ganloops/deck/2/mix/middle /ganloops/deck/2/mix/fine /ganloops/deck/2/psi /ganloops/deck/2/gain /ganloops/deck/2/mute /ganloops/deck/2/seed /ganloops/deck/2/bseed /ganloops/crossfade /ganloops/tempo"
        }
      },
      {
        "box": {
          "id": "obj-116",
          "maxclass": "newobj",
          "numinlets": 2,
          "numoutlets": 1,
          "patching_rect": [
            400,
            1080,
            80,
            22.0
          ],
          "outlettype": [
            ""
          ],
          "text": "prepend set"
        }
      },
      {
        "box": {
          "id": "obj-117",
          "maxclass": "newobj",
          "numinlets": 2,
          "numoutlets": 1,
          "patching_rect": [
            420,
            1106,
            80,
            22.0
          ],
          "outlettype": [
            ""
          ],
          "text": "prepend set"
        }
      },
      {
        "box": {
          "id": "obj-118",
          "maxclass": "newobj",
          "numinlets": 2,
          "numoutlets": 1,
          "patching_rect": [
            440,
            1132,
            80,
            22.0
          ],
          "outlettype": [
            ""
          ],
          "text": "prepend set"
        }
      },
      {
        "box": {
          "id": "obj-119",
          "maxclass": "newobj",
          "numinlets": 2,
          "numoutlets": 1,
          "patching_rect": [
            460,
            1158,
            80,
            22.0
          ],
          "outlettype": [
            ""
          ],
          "text": "prepend set"
        }
      },
      {
        "box": {
          "id": "obj-120",
          "maxclass": "newobj",
          "numinlets": 2,
          "numoutlets": 1,
          "patching_rect": [
            480,
            1080,
            80,
            22.0
          ],
          "outlettype": [
            ""
          ],
          "text": "prepend set"
        }
      },
      {
        "box": {
          "id": "obj-121",
          "maxclass": "newobj",
          "numinlets": 2,
          "numoutlets": 1,
          "patching_rect": [
            500,
            1106,
            80,
            22.0
          ],
          "outlettype": [
            ""
          ],
          "text": "prepend set"
        }
      },
      {
        "box": {
          "id": "obj-122",
          "maxclass": "newobj",
          "numinlets": 2,
          "numoutlets": 1,
          "patching_rect": [
            520,
            1132,
            80,
            22.0
          ],
          "outlettype": [
            ""
          ],
          "text": "prepend set"
        }
      },
      {
        "box": {
          "id": "obj-123",
          "maxclass": "newobj",
          "numinlets": 2,
          "numoutlets": 1,
          "patching_rect": [
            540,
            1158,
            80,
            22.0
          ],
          "outlettype": [
            ""
          ],
          "text": "prepend set"
        }
      },
      {
        "box": {
          "id": "obj-124",
          "maxclass": "newobj",
          "numinlets": 2,
          "numoutlets": 1,
          "patching_rect": [
            560,
            1080,
            80,
            22.0
          ],
          "outlettype": [
            ""
          ],
          "text": "prepend set"
        }
      },
      {
        "box": {
          "id": "obj-125",
          "maxclass": "newobj",
          "numinlets": 2,
          "numoutlets": 1,
          "patching_rect": [
            580,
            1106,
            80,
            22.0
          ],
          "outlettype": [
            ""
          ],
          "text": "prepend set"
        }
      },
      {
        "box": {
          "id": "obj-126",
          "maxclass": "newobj",
          "numinlets": 2,
          "numoutlets": 1,
          "patching_rect": [
            600,
            1132,
            80,
            22.0
          ],
          "outlettype": [
            ""
          ],
          "text": "prepend set"
        }
      },
      {
        "box": {
          "id": "obj-127",
          "maxclass": "newobj",
          "numinlets": 2,
          "numoutlets": 1,
          "patching_rect": [
            620,
            1158,
            80,
            22.0
          ],
          "outlettype": [
            ""
          ],
          "text": "prepend set"
        }
      },
      {
        "box": {
          "id": "obj-128",
          "maxclass": "newobj",
          "numinlets": 2,
          "numoutlets": 1,
          "patching_rect": [
            640,
            1080,
            80,
            22.0
          ],
          "outlettype": [
            ""
          ],
          "text": "prepend set"
        }
      },
      {
        "box": {
          "id": "obj-129",
          "maxclass": "newobj",
          "numinlets": 2,
          "numoutlets": 1,
          "patching_rect": [
            660,
            1106,
            80,
            22.0
          ],
          "outlettype": [
            ""
          ],
          "text": "prepend set"
        }
      },
      {
        "box": {
          "id": "obj-130",
          "maxclass": "newobj",
          "numinlets": 2,
          "numoutlets": 1,
          "patching_rect": [
            680,
            1132,
            80,
            22.0
          ],
          "outlettype": [
            ""
          ],
          "text": "prepend set"
        }
      },
      {
        "box": {
          "id": "obj-131",
          "maxclass": "newobj",
          "numinlets": 2,
          "numoutlets": 1,
          "patching_rect": [
            700,
            1158,
            80,
            22.0
          ],
          "outlettype": [
            ""
          ],
          "text": "prepend set"
        }
      },
      {
        "box": {
          "id": "obj-132",
          "maxclass": "newobj",
          "numinlets": 2,
          "numoutlets": 1,
          "patching_rect": [
            720,
            1080,
            80,
            22.0
          ],
          "outlettype": [
            ""
          ],
          "text": "prepend set"
        }
      },
      {
        "box": {
          "id": "obj-133",
          "maxclass": "newobj",
          "numinlets": 2,
          "numoutlets": 1,
          "patching_rect": [
            740,
            1106,
            80,
            22.0
          ],
          "outlettype": [
            ""
          ],
          "text": "prepend set"
        }
      },
      {
        "box": {
          "id": "obj-134",
          "maxclass": "newobj",
          "numinlets": 2,
          "numoutlets": 1,
          "patching_rect": [
            760,
            1132,
            80,
            22.0
          ],
          "outlettype": [
            ""
          ],
          "text": "prepend set"
        }
      },
      {
        "box": {
          "id": "obj-135",
          "maxclass": "newobj",
          "numinlets": 2,
          "numoutlets": 1,
          "patching_rect": [
            780,
            1158,
            80,
            22.0
          ],
          "outlettype": [
            ""
          ],
          "text": "prepend set"
        }
      },
      {
        "box": {
          "id": "obj-136",
          "maxclass": "newobj",
          "numinlets": 2,
          "numoutlets": 1,
          "patching_rect": [
            800,
            1080,
            80,
            22.0
          ],
          "outlettype": [
            ""
          ],
          "text": "prepend set"
        }
      },
      {
        "box": {
          "id": "obj-137",
          "maxclass": "newobj",
          "numinlets": 2,
          "numoutlets": 1,
          "patching_rect": [
            820,
            1106,
            80,
            22.0
          ],
          "outlettype": [
            ""
          ],
          "text": "prepend set"
        }
      },
      {
        "box": {
          "id": "obj-138",
          "maxclass": "newobj",
          "numinlets": 2,
          "numoutlets": 1,
          "patching_rect": [
            840,
            1132,
            80,
            22.0
          ],
          "outlettype": [
            ""
          ],
          "text": "prepend set"
        }
      },
      {
        "box": {
          "id": "obj-139",
          "maxclass": "newobj",
          "numinlets": 2,
          "numoutlets": 1,
          "patching_rect": [
            860,
            1158,
            80,
            22.0
          ],
          "outlettype": [
            ""
          ],
          "text": "prepend set"
        }
      },
      {
        "box": {
          "id": "obj-140",
          "maxclass": "newobj",
          "numinlets": 2,
          "numoutlets": 1,
          "patching_rect": [
            880,
            1080,
            80,
            22.0
          ],
          "outlettype": [
            ""
          ],
          "text": "prepend set"
        }
      },
      {
        "box": {
          "id": "obj-141",
          "maxclass": "newobj",
          "numinlets": 2,
          "numoutlets": 1,
          "patching_rect": [
            900,
            1106,
            80,
            22.0
          ],
          "outlettype": [
            ""
          ],
          "text": "prepend set"
        }
      },
      {
        "box": {
          "id": "obj-142",
          "maxclass": "newobj",
          "numinlets": 2,
          "numoutlets": 1,
          "patching_rect": [
            920,
            1132,
            80,
            22.0
          ],
          "outlettype": [
            ""
          ],
          "text": "prepend set"
        }
      },
      {
        "box": {
          "id": "obj-143",
          "maxclass": "newobj",
          "numinlets": 2,
          "numoutlets": 1,
          "patching_rect": [
            940,
            1158,
            80,
            22.0
          ],
          "outlettype": [
            ""
          ],
          "text": "prepend set"
        }
      },
      {
        "box": {
          "id": "obj-144",
          "maxclass": "newobj",
          "numinlets": 2,
          "numoutlets": 1,
          "patching_rect": [
            960,
            1080,
            80,
            22.0
          ],
          "outlettype": [
            ""
          ],
          "text": "prepend set"
        }
      },
      {
        "box": {
          "id": "obj-145",
          "maxclass": "newobj",
          "numinlets": 2,
          "numoutlets": 1,
          "patching_rect": [
            980,
            1106,
            80,
            22.0
          ],
          "outlettype": [
            ""
          ],
          "text": "prepend set"
        }
      },
      {
        "box": {
          "id": "obj-146",
          "maxclass": "newobj",
          "numinlets": 2,
          "numoutlets": 1,
          "patching_rect": [
            1000,
            1132,
            80,
            22.0
          ],
          "outlettype": [
            ""
          ],
          "text": "prepend set"
        }
      },
      {
        "box": {
          "id": "obj-147",
          "maxclass": "newobj",
          "numinlets": 2,
          "numoutlets": 1,
          "patching_rect": [
            1020,
            1158,
            80,
            22.0
          ],
          "outlettype": [
            ""
          ],
          "text": "prepend set"
        }
      },
      {
        "box": {
          "id": "obj-148",
          "maxclass": "newobj",
          "numinlets": 2,
          "numoutlets": 1,
          "patching_rect": [
            1040,
            1080,
            80,
            22.0
          ],
          "outlettype": [
            ""
          ],
          "text": "prepend set"
        }
      },
      {
        "box": {
          "id": "obj-149",
          "maxclass": "newobj",
          "numinlets": 2,
          "numoutlets": 1,
          "patching_rect": [
            1060,
            1106,
            80,
            22.0
          ],
          "outlettype": [
            ""
          ],
          "text": "prepend set"
        }
      }
    ],
    "lines": [
      {
        "patchline": {
          "source": [
            "obj-5",
            0
          ],
          "destination": [
            "obj-6",
            0
          ]
        }
      },
      {
        "patchline": {
          "source": [
            "obj-6",
            0
          ],
          "destination": [
            "obj-1",
            0
          ]
        }
      },
      {
        "patchline": {
          "source": [
            "obj-7",
            0
          ],
          "destination": [
            "obj-8",
            0
          ]
        }
      },
      {
        "patchline": {
          "source": [
            "obj-8",
            0
          ],
          "destination": [
            "obj-1",
            0
          ]
        }
      },
      {
        "patchline": {
          "source": [
            "obj-9",
            0
          ],
          "destination": [
            "obj-10",
            0
          ]
        }
      },
      {
        "patchline": {
          "source": [
            "obj-10",
            0
          ],
          "destination": [
            "obj-1",
            0
          ]
        }
      },
      {
        "patchline": {
          "source": [
            "obj-11",
            0
          ],
          "destination": [
            "obj-12",
            0
          ]
        }
      },
      {
        "patchline": {
          "source": [
            "obj-12",
            0
          ],
          "destination": [
            "obj-1",
            0
          ]
        }
      },
      {
        "patchline": {
          "source": [
            "obj-13",
            0
          ],
          "destination": [
            "obj-14",
            0
          ]
        }
      },
      {
        "patchline": {
          "source": [
            "obj-14",
            0
          ],
          "destination": [
            "obj-1",
            0
          ]
        }
      },
      {
        "patchline": {
          "source": [
            "obj-15",
            0
          ],
          "destination": [
            "obj-16",
            0
          ]
        }
      },
      {
        "patchline": {
          "source": [
            "obj-16",
            0
          ],
          "destination": [
            "obj-1",
            0
          ]
        }
      },
      {
        "patchline": {
          "source": [
            "obj-17",
            0
          ],
          "destination": [
            "obj-18",
            0
          ]
        }
      },
      {
        "patchline": {
          "source": [
            "obj-18",
            0
          ],
          "destination": [
            "obj-1",
            0
          ]
        }
      },
      {
        "patchline": {
          "source": [
            "obj-19",
            0
          ],
          "destination": [
            "obj-20",
            0
          ]
        }
      },
      {
        "patchline": {
          "source": [
            "obj-20",
            0
          ],
          "destination": [
            "obj-1",
            0
          ]
        }
      },
      {
        "patchline": {
          "source": [
            "obj-21",
            0
          ],
          "destination": [
            "obj-22",
            0
          ]
        }
      },
      {
        "patchline": {
          "source": [
            "obj-22",
            0
          ],
          "destination": [
            "obj-1",
            0
          ]
        }
      },
      {
        "patchline": {
          "source": [
            "obj-23",
            0
          ],
          "destination": [
            "obj-24",
            0
          ]
        }
      },
      {
        "patchline": {
          "source": [
            "obj-24",
            0
          ],
          "destination": [
            "obj-1",
            0
          ]
        }
      },
      {
        "patchline": {
          "source": [
            "obj-25",
            0
          ],
          "destination": [
            "obj-26",
            0
          ]
        }
      },
      {
        "patchline": {
          "source": [
            "obj-26",
            0
          ],
          "destination": [
            "obj-1",
            0
          ]
        }
      },
      {
        "patchline": {
          "source": [
            "obj-27",
            0
          ],
          "destination": [
            "obj-28",
            0
          ]
        }
      },
      {
        "patchline": {
          "source": [
            "obj-28",
            0
          ],
          "destination": [
            "obj-1",
            0
          ]
        }
      },
      {
        "patchline": {
          "source": [
            "obj-29",
            0
          ],
          "destination": [
            "obj-30",
            0
          ]
        }
      },
      {
        "patchline": {
          "source": [
            "obj-30",
            0
          ],
          "destination": [
            "obj-1",
            0
          ]
        }
      },
      {
        "patchline": {
          "source": [
            "obj-31",
            0
          ],
          "destination": [
            "obj-32",
            0
          ]
        }
      },
      {
        "patchline": {
          "source": [
            "obj-32",
            0
          ],
          "destination": [
            "obj-1",
            0
          ]
        }
      },
      {
        "patchline": {
          "source": [
            "obj-33",
            0
          ],
          "destination": [
            "obj-34",
            0
          ]
        }
      },
      {
        "patchline": {
          "source": [
            "obj-34",
            0
          ],
          "destination": [
            "obj-1",
            0
          ]
        }
      },
      {
        "patchline": {
          "source": [
            "obj-35",
            0
          ],
          "destination": [
            "obj-36",
            0
          ]
        }
      },
      {
        "patchline": {
          "source": [
            "obj-36",
            0
          ],
          "destination": [
            "obj-33",
            0
          ]
        }
      },
      {
        "patchline": {
          "source": [
            "obj-38",
            0
          ],
          "destination": [
            "obj-39",
            0
          ]
        }
      },
      {
        "patchline": {
          "source": [
            "obj-39",
            0
          ],
          "destination": [
            "obj-1",
            0
          ]
        }
      },
      {
        "patchline": {
          "source": [
            "obj-40",
            0
          ],
          "destination": [
            "obj-41",
            0
          ]
        }
      },
      {
        "patchline": {
          "source": [
            "obj-41",
            0
          ],
          "destination": [
            "obj-38",
            0
          ]
        }
      },
      {
        "patchline": {
          "source": [
            "obj-44",
            0
          ],
          "destination": [
            "obj-45",
            0
          ]
        }
      },
      {
        "patchline": {
          "source": [
            "obj-45",
            0
          ],
          "destination": [
            "obj-1",
            0
          ]
        }
      },
      {
        "patchline": {
          "source": [
            "obj-46",
            0
          ],
          "destination": [
            "obj-47",
            0
          ]
        }
      },
      {
        "patchline": {
          "source": [
            "obj-47",
            0
          ],
          "destination": [
            "obj-1",
            0
          ]
        }
      },
      {
        "patchline": {
          "source": [
            "obj-48",
            0
          ],
          "destination": [
            "obj-49",
            0
          ]
        }
      },
      {
        "patchline": {
          "source": [
            "obj-49",
            0
          ],
          "destination": [
            "obj-1",
            0
          ]
        }
      },
      {
        "patchline": {
          "source": [
            "obj-50",
            0
          ],
          "destination": [
            "obj-51",
            0
          ]
        }
      },
      {
        "patchline": {
          "source": [
            "obj-51",
            0
          ],
          "destination": [
            "obj-1",
            0
          ]
        }
      },
      {
        "patchline": {
          "source": [
            "obj-52",
            0
          ],
          "destination": [
            "obj-53",
            0
          ]
        }
      },
      {
        "patchline": {
          "source": [
            "obj-53",
            0
          ],
          "destination": [
            "obj-1",
            0
          ]
        }
      },
      {
        "patchline": {
          "source": [
            "obj-54",
            0
          ],
          "destination": [
            "obj-55",
            0
          ]
        }
      },
      {
        "patchline": {
          "source": [
            "obj-55",
            0
          ],
          "destination": [
            "obj-1",
            0
          ]
        }
      },
      {
        "patchline": {
          "source": [
            "obj-56",
            0
          ],
          "destination": [
            "obj-57",
            0
          ]
        }
      },
      {
        "patchline": {
          "source": [
            "obj-57",
            0
          ],
          "destination": [
            "obj-1",
            0
          ]
        }
      },
      {
        "patchline": {
          "source": [
            "obj-58",
            0
          ],
          "destination": [
            "obj-59",
            0
          ]
        }
      },
      {
        "patchline": {
          "source": [
            "obj-59",
            0
          ],
          "destination": [
            "obj-1",
            0
          ]
        }
      },
      {
        "patchline": {
          "source": [
            "obj-60",
            0
          ],
          "destination": [
            "obj-61",
            0
          ]
        }
      },
      {
        "patchline": {
          "source": [
            "obj-61",
            0
          ],
          "destination": [
            "obj-1",
            0
          ]
        }
      },
      {
        "patchline": {
          "source": [
            "obj-62",
            0
          ],
          "destination": [
            "obj-63",
            0
          ]
        }
      },
      {
        "patchline": {
          "source": [
            "obj-63",
            0
          ],
          "destination": [
            "obj-1",
            0
          ]
        }
      },
      {
        "patchline": {
          "source": [
            "obj-64",
            0
          ],
          "destination": [
            "obj-65",
            0
          ]
        }
      },
      {
        "patchline": {
          "source": [
            "obj-65",
            0
          ],
          "destination": [
            "obj-1",
            0
          ]
        }
      },
      {
        "patchline": {
          "source": [
            "obj-66",
            0
          ],
          "destination": [
            "obj-67",
            0
          ]
        }
      },
      {
        "patchline": {
          "source": [
            "obj-67",
            0
          ],
          "destination": [
            "obj-1",
            0
          ]
        }
      },
      {
        "patchline": {
          "source": [
            "obj-68",
            0
          ],
          "destination": [
            "obj-69",
            0
          ]
        }
      },
      {
        "patchline": {
          "source": [
            "obj-69",
            0
          ],
          "destination": [
            "obj-1",
            0
          ]
        }
      },
      {
        "patchline": {
          "source": [
            "obj-70",
            0
          ],
          "destination": [
            "obj-71",
            0
          ]
        }
      },
      {
        "patchline": {
          "source": [
            "obj-71",
            0
          ],
          "destination": [
            "obj-1",
            0
          ]
        }
      },
      {
        "patchline": {
          "source": [
            "obj-72",
            0
          ],
          "destination": [
            "obj-73",
            0
          ]
        }
      },
      {
        "patchline": {
          "source": [
            "obj-73",
            0
          ],
          "destination": [
            "obj-1",
            0
          ]
        }
      },
      {
        "patchline": {
          "source": [
            "obj-74",
            0
          ],
          "destination": [
            "obj-75",
            0
          ]
        }
      },
      {
        "patchline": {
          "source": [
            "obj-75",
            0
          ],
          "destination": [
            "obj-72",
            0
          ]
        }
      },
      {
        "patchline": {
          "source": [
            "obj-77",
            0
          ],
          "destination": [
            "obj-78",
            0
          ]
        }
      },
      {
        "patchline": {
          "source": [
            "obj-78",
            0
          ],
          "destination": [
            "obj-1",
            0
          ]
        }
      },
      {
        "patchline": {
          "source": [
            "obj-79",
            0
          ],
          "destination": [
            "obj-80",
            0
          ]
        }
      },
      {
        "patchline": {
          "source": [
            "obj-80",
            0
          ],
          "destination": [
            "obj-77",
            0
          ]
        }
      },
      {
        "patchline": {
          "source": [
            "obj-82",
            0
          ],
          "destination": [
            "obj-83",
            0
          ]
        }
      },
      {
        "patchline": {
          "source": [
            "obj-83",
            0
          ],
          "destination": [
            "obj-1",
            0
          ]
        }
      },
      {
        "patchline": {
          "source": [
            "obj-84",
            0
          ],
          "destination": [
            "obj-85",
            0
          ]
        }
      },
      {
        "patchline": {
          "source": [
            "obj-85",
            0
          ],
          "destination": [
            "obj-1",
            0
          ]
        }
      },
      {
        "patchline": {
          "source": [
            "obj-87",
            0
          ],
          "destination": [
            "obj-88",
            0
          ]
        }
      },
      {
        "patchline": {
          "source": [
            "obj-88",
            0
          ],
          "destination": [
            "obj-89",
            0
          ]
        }
      },
      {
        "patchline": {
          "source": [
            "obj-88",
            1
          ],
          "destination": [
            "obj-89",
            0
          ]
        }
      },
      {
        "patchline": {
          "source": [
            "obj-92",
            0
          ],
          "destination": [
            "obj-91",
            0
          ]
        }
      },
      {
        "patchline": {
          "source": [
            "obj-91",
            0
          ],
          "destination": [
            "obj-90",
            0
          ]
        }
      },
      {
        "patchline": {
          "source": [
            "obj-89",
            0
          ],
          "destination": [
            "obj-95",
            1
          ]
        }
      },
      {
        "patchline": {
          "source": [
            "obj-94",
            0
          ],
          "destination": [
            "obj-95",
            0
          ]
        }
      },
      {
        "patchline": {
          "source": [
            "obj-95",
            0
          ],
          "destination": [
            "obj-96",
            0
          ]
        }
      },
      {
        "patchline": {
          "source": [
            "obj-96",
            0
          ],
          "destination": [
            "obj-1",
            0
          ]
        }
      },
      {
        "patchline": {
          "source": [
            "obj-89",
            0
          ],
          "destination": [
            "obj-99",
            1
          ]
        }
      },
      {
        "patchline": {
          "source": [
            "obj-98",
            0
          ],
          "destination": [
            "obj-99",
            0
          ]
        }
      },
      {
        "patchline": {
          "source": [
            "obj-99",
            0
          ],
          "destination": [
            "obj-100",
            0
          ]
        }
      },
      {
        "patchline": {
          "source": [
            "obj-100",
            0
          ],
          "destination": [
            "obj-1",
            0
          ]
        }
      },
      {
        "patchline": {
          "source": [
            "obj-89",
            0
          ],
          "destination": [
            "obj-103",
            1
          ]
        }
      },
      {
        "patchline": {
          "source": [
            "obj-102",
            0
          ],
          "destination": [
            "obj-103",
            0
          ]
        }
      },
      {
        "patchline": {
          "source": [
            "obj-90",
            0
          ],
          "destination": [
            "obj-104",
            1
          ]
        }
      },
      {
        "patchline": {
          "source": [
            "obj-103",
            0
          ],
          "destination": [
            "obj-104",
            0
          ]
        }
      },
      {
        "patchline": {
          "source": [
            "obj-104",
            0
          ],
          "destination": [
            "obj-105",
            0
          ]
        }
      },
      {
        "patchline": {
          "source": [
            "obj-105",
            0
          ],
          "destination": [
            "obj-1",
            0
          ]
        }
      },
      {
        "patchline": {
          "source": [
            "obj-92",
            0
          ],
          "destination": [
            "obj-110",
            0
          ]
        }
      },
      {
        "patchline": {
          "source": [
            "obj-110",
            0
          ],
          "destination": [
            "obj-108",
            0
          ]
        }
      },
      {
        "patchline": {
          "source": [
            "obj-112",
            0
          ],
          "destination": [
            "obj-108",
            0
          ]
        }
      },
      {
        "patchline": {
          "source": [
            "obj-108",
            0
          ],
          "destination": [
            "obj-1",
            0
          ]
        }
      },
      {
        "patchline": {
          "source": [
            "obj-114",
            0
          ],
          "destination": [
            "obj-109",
            0
          ]
        }
      },
      {
        "patchline": {
          "source": [
            "obj-109",
            0
          ],
          "destination": [
            "obj-1",
            0
          ]
        }
      },
      {
        "patchline": {
          "source": [
            "obj-2",
            0
          ],
          "destination": [
            "obj-115",
            0
          ]
        }
      },
      {
        "patchline": {
          "source": [
            "obj-115",
            0
          ],
          "destination": [
            "obj-116",
            0
          ]
        }
      },
      {
        "patchline": {
          "source": [
            "obj-116",
            0
          ],
          "destination": [
            "obj-5",
            0
          ]
        }
      },
      {
        "patchline": {
          "source": [
            "obj-115",
            1
          ],
          "destination": [
            "obj-117",
            0
          ]
        }
      },
      {
        "patchline": {
          "source": [
            "obj-117",
            0
          ],
          "destination": [
            "obj-7",
            0
          ]
        }
      },
      {
        "patchline": {
          "source": [
            "obj-115",
            2
          ],
          "destination": [
            "obj-118",
            0
          ]
        }
      },
      {
        "patchline": {
          "source": [
            "obj-118",
            0
          ],
          "destination": [
            "obj-9",
            0
          ]
        }
      },
      {
        "patchline": {
          "source": [
            "obj-115",
            3
          ],
          "destination": [
            "obj-119",
            0
          ]
        }
      },
      {
        "patchline": {
          "source": [
            "obj-119",
            0
          ],
          "destination": [
            "obj-11",
            0
          ]
        }
      },
      {
        "patchline": {
          "source": [
            "obj-115",
            4
          ],
          "destination": [
            "obj-120",
            0
          ]
        }
      },
      {
        "patchline": {
          "source": [
            "obj-120",
            0
          ],
          "destination": [
            "obj-13",
            0
          ]
        }
      },
      {
        "patchline": {
          "source": [
            "obj-115",
            5
          ],
          "destination": [
            "obj-121",
            0
          ]
        }
      },
      {
        "patchline": {
          "source": [
            "obj-121",
            0
          ],
          "destination": [
            "obj-15",
            0
          ]
        }
      },
      {
        "patchline": {
          "source": [
            "obj-115",
            6
          ],
          "destination": [
            "obj-122",
            0
          ]
        }
      },
      {
        "patchline": {
          "source": [
            "obj-122",
            0
          ],
          "destination": [
            "obj-17",
            0
          ]
        }
      },
      {
        "patchline": {
          "source": [
            "obj-115",
            7
          ],
          "destination": [
            "obj-123",
            0
          ]
        }
      },
      {
        "patchline": {
          "source": [
            "obj-123",
            0
          ],
          "destination": [
            "obj-19",
            0
          ]
        }
      },
      {
        "patchline": {
          "source": [
            "obj-115",
            8
          ],
          "destination": [
            "obj-124",
            0
          ]
        }
      },
      {
        "patchline": {
          "source": [
            "obj-124",
            0
          ],
          "destination": [
            "obj-21",
            0
          ]
        }
      },
      {
        "patchline": {
          "source": [
            "obj-115",
            9
          ],
          "destination": [
            "obj-125",
            0
          ]
        }
      },
      {
        "patchline": {
          "source": [
            "obj-125",
            0
          ],
          "destination": [
            "obj-23",
            0
          ]
        }
      },
      {
        "patchline": {
          "source": [
            "obj-115",
            10
          ],
          "destination": [
            "obj-126",
            0
          ]
        }
      },
      {
        "patchline": {
          "source": [
            "obj-126",
            0
          ],
          "destination": [
            "obj-25",
            0
          ]
        }
      },
      {
        "patchline": {
          "source": [
            "obj-115",
            11
          ],
          "destination": [
            "obj-127",
            0
          ]
        }
      },
      {
        "patchline": {
          "source": [
            "obj-127",
            0
          ],
          "destination": [
            "obj-27",
            0
          ]
        }
      },
      {
        "patchline": {
          "source": [
            "obj-115",
            12
          ],
          "destination": [
            "obj-128",
            0
          ]
        }
      },
      {
        "patchline": {
          "source": [
            "obj-128",
            0
          ],
          "destination": [
            "obj-29",
            0
          ]
        }
      },
      {
        "patchline": {
          "source": [
            "obj-115",
            13
          ],
          "destination": [
            "obj-129",
            0
          ]
        }
      },
      {
        "patchline": {
          "source": [
            "obj-129",
            0
          ],
          "destination": [
            "obj-31",
            0
          ]
        }
      },
      {
        "patchline": {
          "source": [
            "obj-115",
            14
          ],
          "destination": [
            "obj-130",
            0
          ]
        }
      },
      {
        "patchline": {
          "source": [
            "obj-130",
            0
          ],
          "destination": [
            "obj-33",
            0
          ]
        }
      },
      {
        "patchline": {
          "source": [
            "obj-115",
            15
          ],
          "destination": [
            "obj-131",
            0
          ]
        }
      },
      {
        "patchline": {
          "source": [
            "obj-131",
            0
          ],
          "destination": [
            "obj-38",
            0
          ]
        }
      },
      {
        "patchline": {
          "source": [
            "obj-115",
            16
          ],
          "destination": [
            "obj-132",
            0
          ]
        }
      },
      {
        "patchline": {
          "source": [
            "obj-132",
            0
          ],
          "destination": [
            "obj-44",
            0
          ]
        }
      },
      {
        "patchline": {
          "source": [
            "obj-115",
            17
          ],
          "destination": [
            "obj-133",
            0
          ]
        }
      },
      {
        "patchline": {
          "source": [
            "obj-133",
            0
          ],
          "destination": [
            "obj-46",
            0
          ]
        }
      },
      {
        "patchline": {
          "source": [
            "obj-115",
            18
          ],
          "destination": [
            "obj-134",
            0
          ]
        }
      },
      {
        "patchline": {
          "source": [
            "obj-134",
            0
          ],
          "destination": [
            "obj-48",
            0
          ]
        }
      },
      {
        "patchline": {
          "source": [
            "obj-115",
            19
          ],
          "destination": [
            "obj-135",
            0
          ]
        }
      },
      {
        "patchline": {
          "source": [
            "obj-135",
            0
          ],
          "destination": [
            "obj-50",
            0
          ]
        }
      },
      {
        "patchline": {
          "source": [
            "obj-115",
            20
          ],
          "destination": [
            "obj-136",
            0
          ]
        }
      },
      {
        "patchline": {
          "source": [
            "obj-136",
            0
          ],
          "destination": [
            "obj-52",
            0
          ]
        }
      },
      {
        "patchline": {
          "source": [
            "obj-115",
            21
          ],
          "destination": [
            "obj-137",
            0
          ]
        }
      },
      {
        "patchline": {
          "source": [
            "obj-137",
            0
          ],
          "destination": [
            "obj-54",
            0
          ]
        }
      },
      {
        "patchline": {
          "source": [
            "obj-115",
            22
          ],
          "destination": [
            "obj-138",
            0
          ]
        }
      },
      {
        "patchline": {
          "source": [
            "obj-138",
            0
          ],
          "destination": [
            "obj-56",
            0
          ]
        }
      },
      {
        "patchline": {
          "source": [
            "obj-115",
            23
          ],
          "destination": [
            "obj-139",
            0
          ]
        }
      },
      {
        "patchline": {
          "source": [
            "obj-139",
            0
          ],
          "destination": [
            "obj-58",
            0
          ]
        }
      },
      {
        "patchline": {
          "source": [
            "obj-115",
            24
          ],
          "destination": [
            "obj-140",
            0
          ]
        }
      },
      {
        "patchline": {
          "source": [
            "obj-140",
            0
          ],
          "destination": [
            "obj-60",
            0
          ]
        }
      },
      {
        "patchline": {
          "source": [
            "obj-115",
            25
          ],
          "destination": [
            "obj-141",
            0
          ]
        }
      },
      {
        "patchline": {
          "source": [
            "obj-141",
            0
          ],
          "destination": [
            "obj-62",
            0
          ]
        }
      },
      {
        "patchline": {
          "source": [
            "obj-115",
            26
          ],
          "destination": [
            "obj-142",
            0
          ]
        }
      },
      {
        "patchline": {
          "source": [
            "obj-142",
            0
          ],
          "destination": [
            "obj-64",
            0
          ]
        }
      },
      {
        "patchline": {
          "source": [
            "obj-115",
            27
          ],
          "destination": [
            "obj-143",
            0
          ]
        }
      },
      {
        "patchline": {
          "source": [
            "obj-143",
            0
          ],
          "destination": [
            "obj-66",
            0
          ]
        }
      },
      {
        "patchline": {
          "source": [
            "obj-115",
            28
          ],
          "destination": [
            "obj-144",
            0
          ]
        }
      },
      {
        "patchline": {
          "source": [
            "obj-144",
            0
          ],
          "destination": [
            "obj-68",
            0
          ]
        }
      },
      {
        "patchline": {
          "source": [
            "obj-115",
            29
          ],
          "destination": [
            "obj-145",
            0
          ]
        }
      },
      {
        "patchline": {
          "source": [
            "obj-145",
            0
          ],
          "destination": [
            "obj-70",
            0
          ]
        }
      },
      {
        "patchline": {
          "source": [
            "obj-115",
            30
          ],
          "destination": [
            "obj-146",
            0
          ]
        }
      },
      {
        "patchline": {
          "source": [
            "obj-146",
            0
          ],
          "destination": [
            "obj-72",
            0
          ]
        }
      },
      {
        "patchline": {
          "source": [
            "obj-115",
            31
          ],
          "destination": [
            "obj-147",
            0
          ]
        }
      },
      {
        "patchline": {
          "source": [
            "obj-147",
            0
          ],
          "destination": [
            "obj-77",
            0
          ]
        }
      },
      {
        "patchline": {
          "source": [
            "obj-115",
            32
          ],
          "destination": [
            "obj-148",
            0
          ]
        }
      },
      {
        "patchline": {
          "source": [
            "obj-148",
            0
          ],
          "destination": [
            "obj-82",
            0
          ]
        }
      },
      {
        "patchline": {
          "source": [
            "obj-115",
            33
          ],
          "destination": [
            "obj-149",
            0
          ]
        }
      },
      {
        "patchline": {
          "source": [
            "obj-149",
            0
          ],
          "destination": [
            "obj-84",
            0
          ]
        }
      }
    ],
    "dependency_cache": [],
    "autosave": 0
  }
}
